using System.Collections.Concurrent;
using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Command.V1;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.Failure.V1;
using Temporalio.Api.History.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

/// <summary>What activity dispatch needs from the engine: the run lock and the rule for events that arrive mid-task.</summary>
internal interface IRunHost
{
    /// <summary>Runs the body under the run's lock, persists what it appended, then runs its follow-up actions.</summary>
    T Locked<T>(WorkflowRun run, Func<List<Action>, T> body);

    void Locked(WorkflowRun run, Action<List<Action>> body);

    /// <summary>Writes an event now, or after the running workflow task completes, and schedules a task for it.</summary>
    void WriteOrBuffer(WorkflowRun run, Action write, List<Action> after);
}

/// <summary>
/// Activity tasks: matching on the activity queues, attempts, heartbeats, timeouts and server-side retries.
/// Every method that takes a run expects its lock to be held, except those that take it themselves through
/// <see cref="IRunHost.Locked{T}"/> (the RPC entry points and the deadlines).
/// </summary>
internal sealed partial class ActivityDispatcher(IRunHost host, Scheduler scheduler, TimeProvider clock)
{
    private readonly ConcurrentDictionary<(string Ns, string Queue), TaskQueue<ActivityTaskRef>> _queues = new();

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    public TaskQueue<ActivityTaskRef> Queue(string ns, string name) =>
        _queues.GetOrAdd((ns, name), _ => new TaskQueue<ActivityTaskRef>());

    /// <summary>Activity tasks queued and not yet handed to a poller.</summary>
    public long Backlog(string ns, string queue) => _queues.TryGetValue((ns, queue), out var q) ? q.Backlog : 0;

    /// <summary>
    /// Schedules the activity; one the worker asked to run eagerly on the workflow's own queue is added to
    /// <paramref name="eager"/> instead of the queue, to be started in the workflow task's response.
    /// </summary>
    public void ScheduleActivity(
        WorkflowRun run,
        ScheduleActivityTaskCommandAttributes c,
        long completedId,
        List<Action> after,
        List<ActivityState> eager,
        Temporalio.Api.Sdk.V1.UserMetadata? metadata = null)
    {
        // Every timeout is filled in, as workers rely on them (ScheduleToClose bounded by the run timeout).
        var runTimeout = Durations.Positive(run.Start.WorkflowRunTimeout);
        var scheduleToClose = Durations.Positive(c.ScheduleToCloseTimeout) ?? runTimeout ?? TimeSpan.Zero;
        var startToClose = Durations.Positive(c.StartToCloseTimeout) ?? scheduleToClose;
        var scheduleToStart = Durations.Positive(c.ScheduleToStartTimeout) ?? scheduleToClose;
        var scheduled = run.Add(EventType.ActivityTaskScheduled, e =>
        {
            e.UserMetadata = metadata;
            e.ActivityTaskScheduledEventAttributes = new ActivityTaskScheduledEventAttributes
            {
                ActivityId = c.ActivityId,
                ActivityType = c.ActivityType,
                TaskQueue = string.IsNullOrEmpty(c.TaskQueue?.Name) ? run.Start.TaskQueue : c.TaskQueue,
                Header = c.Header,
                Input = c.Input,
                ScheduleToCloseTimeout = Duration.FromTimeSpan(scheduleToClose),
                ScheduleToStartTimeout = Duration.FromTimeSpan(scheduleToStart),
                StartToCloseTimeout = Duration.FromTimeSpan(startToClose),
                HeartbeatTimeout = Duration.FromTimeSpan(Durations.Positive(c.HeartbeatTimeout) ?? TimeSpan.Zero),
                WorkflowTaskCompletedEventId = completedId,
                RetryPolicy = RetryPolicies.Complete(c.RetryPolicy),
                Priority = c.Priority,
            };
        });
        var activity = run.Activities[scheduled.EventId];
        ArmScheduleToClose(run, activity);
        if (c.RequestEagerExecution && activity.Attributes.TaskQueue.Name == run.Start.TaskQueue.Name)
        {
            eager.Add(activity);
            return;
        }

        DispatchActivity(run, activity, after);
    }

    public void ArmScheduleToClose(WorkflowRun run, ActivityState activity)
    {
        if (Durations.Positive(activity.Attributes.ScheduleToCloseTimeout) is { } s2c)
        {
            var id = activity.ScheduledEventId;
            scheduler.At(activity.ScheduledTime + s2c, run, r => ActivityTimedOut(r, id, null, TimeoutType.ScheduleToClose));
        }
    }

    public void DispatchActivity(WorkflowRun run, ActivityState activity, List<Action> after)
    {
        var seq = activity.NextDispatch();
        var item = new ActivityTaskRef(run, activity.ScheduledEventId, seq);
        var queue = Queue(run.Namespace, activity.Attributes.TaskQueue.Name);
        after.Add(() => queue.Add(item));
        if (Durations.Positive(activity.Attributes.ScheduleToStartTimeout) is { } s2s
            && s2s != Durations.Positive(activity.Attributes.ScheduleToCloseTimeout))
        {
            var attempt = activity.Attempt;
            scheduler.After(s2s, () => ActivityTimedOut(run, activity.ScheduledEventId, attempt, TimeoutType.ScheduleToStart));
        }
    }

    public PollActivityTaskQueueResponse? TryStartActivity(ActivityTaskRef item, string identity)
    {
        var run = item.Run;
        return host.Locked(run, _ =>
        {
            if (!run.IsRunning || !run.Activities.TryGetValue(item.ScheduledEventId, out var activity)
                || activity.Started || activity.Closing || activity.DispatchSeq != item.Seq || activity.Paused)
            {
                return null;
            }

            return StartActivityLocked(run, activity, identity);
        });
    }

    public PollActivityTaskQueueResponse StartActivityLocked(WorkflowRun run, ActivityState activity, string identity)
    {
        var now = Now;
        activity.Start(now, identity);
        var attempt = activity.Attempt;
        var scheduledId = activity.ScheduledEventId;
        run.UnpersistedActivities.Add(new ActivityRecord(scheduledId, attempt));
        var a = activity.Attributes;
        if (Durations.Positive(a.StartToCloseTimeout) is { } startToClose)
        {
            scheduler.After(startToClose, run, r => ActivityTimedOut(r, scheduledId, attempt, TimeoutType.StartToClose));
        }

        if (Durations.Positive(a.HeartbeatTimeout) is { } heartbeat)
        {
            scheduler.After(heartbeat, run, r => ActivityTimedOut(r, scheduledId, attempt, TimeoutType.Heartbeat));
        }

        return new PollActivityTaskQueueResponse
        {
            TaskToken = WorkflowEngine.Token("a", run.Namespace, run.RunId, scheduledId, attempt),
            WorkflowNamespace = run.Namespace,
            WorkflowType = run.Start.WorkflowType,
            WorkflowExecution = run.Execution,
            ActivityType = a.ActivityType,
            ActivityId = a.ActivityId,
            Header = a.Header,
            Input = a.Input,
            HeartbeatDetails = activity.HeartbeatDetails,
            ScheduledTime = Timestamp.FromDateTime(activity.ScheduledTime),
            CurrentAttemptScheduledTime = Timestamp.FromDateTime(activity.CurrentAttemptScheduledTime),
            StartedTime = Timestamp.FromDateTime(now),
            Attempt = attempt,
            ScheduleToCloseTimeout = a.ScheduleToCloseTimeout,
            StartToCloseTimeout = a.StartToCloseTimeout,
            HeartbeatTimeout = a.HeartbeatTimeout,
            RetryPolicy = a.RetryPolicy,
            Priority = a.Priority,
        };
    }

    private static ActivityState RequireStartedActivity(WorkflowRun run, long scheduledId, int attempt)
    {
        if (!run.IsRunning)
        {
            throw Errors.NotFound("Workflow execution already completed.");
        }

        if (!run.Activities.TryGetValue(scheduledId, out var activity) || activity.Attempt != attempt || activity.Closing)
        {
            throw Errors.NotFound("Activity task not found.");
        }

        return activity;
    }

    public RecordActivityTaskHeartbeatResponse Heartbeat((WorkflowRun Run, long ScheduledId, int Attempt) target, Payloads? details) =>
        host.Locked(target.Run, _ =>
    {
        var activity = RequireStartedActivity(target.Run, target.ScheduledId, target.Attempt);
        activity.RecordHeartbeat(Now, details);
        if (details is not null)
        {
            target.Run.UnpersistedActivities.Add(new ActivityRecord(target.ScheduledId, target.Attempt, details));
        }

        return HeartbeatResponse(activity);
    });

    public void CompleteActivity(
        (WorkflowRun Run, long ScheduledId, int Attempt) target,
        Payloads? result,
        string identity) => host.Locked(target.Run, after =>
    {
        var run = target.Run;
        var activity = RequireStartedActivity(run, target.ScheduledId, target.Attempt);
        CloseActivity(run, activity, identity, after, startedId => run.Add(EventType.ActivityTaskCompleted, e => e
            .ActivityTaskCompletedEventAttributes = new ActivityTaskCompletedEventAttributes
            {
                Result = result,
                ScheduledEventId = activity.ScheduledEventId,
                StartedEventId = startedId,
                Identity = identity,
            }));
    });

    public void CancelActivityCompleted(
        (WorkflowRun Run, long ScheduledId, int Attempt) target,
        Payloads? details,
        string identity) => host.Locked(target.Run, after =>
    {
        var run = target.Run;
        var activity = RequireStartedActivity(run, target.ScheduledId, target.Attempt);
        var cancelRequestedId = LatestCancelRequest(run, activity.ScheduledEventId);
        CloseActivity(run, activity, identity, after, startedId => run.Add(EventType.ActivityTaskCanceled, e => e
            .ActivityTaskCanceledEventAttributes = new ActivityTaskCanceledEventAttributes
            {
                Details = details,
                LatestCancelRequestedEventId = cancelRequestedId,
                ScheduledEventId = activity.ScheduledEventId,
                StartedEventId = startedId,
                Identity = identity,
            }));
    });

    public void FailActivity(
        (WorkflowRun Run, long ScheduledId, int Attempt) target,
        Failure? failure,
        Payloads? lastHeartbeat,
        string identity) => host.Locked(target.Run, after =>
    {
        var run = target.Run;
        var activity = RequireStartedActivity(run, target.ScheduledId, target.Attempt);
        if (lastHeartbeat is not null)
        {
            activity.KeepHeartbeatDetails(lastHeartbeat);
            run.UnpersistedActivities.Add(new ActivityRecord(activity.ScheduledEventId, activity.Attempt, lastHeartbeat));
        }

        failure ??= new Failure { Message = "Activity failed", ApplicationFailureInfo = new ApplicationFailureInfo() };
        if (!activity.CancelRequested && TryRetryActivity(run, activity, failure))
        {
            return;
        }

        var maximumAttempts = activity.Attributes.RetryPolicy.MaximumAttempts;
        var retryState = maximumAttempts > 0 && activity.Attempt >= maximumAttempts
            ? RetryState.MaximumAttemptsReached
            : RetryState.NonRetryableFailure;
        CloseActivity(run, activity, identity, after, startedId => run.Add(EventType.ActivityTaskFailed, e => e
            .ActivityTaskFailedEventAttributes = new ActivityTaskFailedEventAttributes
            {
                Failure = failure,
                ScheduledEventId = activity.ScheduledEventId,
                StartedEventId = startedId,
                Identity = identity,
                RetryState = retryState,
            }));
    });

    /// <summary>Schedules the next attempt if the policy and the ScheduleToClose budget allow it.</summary>
    private bool TryRetryActivity(WorkflowRun run, ActivityState activity, Failure failure)
    {
        if (activity.ResetRequested)
        {
            return RetryAfterReset(run, activity, failure);
        }

        if (RetryPolicies.Delay(activity.Attributes.RetryPolicy, activity.Attempt, failure) is not { } delay)
        {
            return false;
        }

        var next = Now + delay;
        if (Durations.Positive(activity.Attributes.ScheduleToCloseTimeout) is { } s2c && next >= activity.ScheduledTime + s2c)
        {
            return false;
        }

        var seq = activity.ScheduleRetry(failure, next);
        scheduler.At(next, () => host.Locked(run, later =>
        {
            if (run.IsRunning && run.Activities.TryGetValue(activity.ScheduledEventId, out var current) && current == activity
                && activity.DispatchSeq == seq && !activity.Closing && !activity.Paused)
            {
                DispatchActivity(run, activity, later);
            }
        }));
        return true;
    }

    private static long LatestCancelRequest(WorkflowRun run, long scheduledId) =>
        run.History.LastOrDefault(h => h.EventType == EventType.ActivityTaskCancelRequested
            && h.ActivityTaskCancelRequestedEventAttributes.ScheduledEventId == scheduledId)?.EventId ?? 0;

    /// <summary>ActivityTaskStarted is written only with the outcome, carrying the final attempt, as the real server does.</summary>
    private void CloseActivity(WorkflowRun run, ActivityState activity, string identity, List<Action> after, Action<long> writeOutcome)
    {
        activity.MarkClosing();
        host.WriteOrBuffer(run, () =>
        {
            if (!run.Activities.TryGetValue(activity.ScheduledEventId, out var current) || current != activity)
            {
                return;
            }

            long startedId = 0;
            if (activity.Started)
            {
                startedId = run.Add(EventType.ActivityTaskStarted, e => e.ActivityTaskStartedEventAttributes
                    = new ActivityTaskStartedEventAttributes
                    {
                        ScheduledEventId = activity.ScheduledEventId,
                        Identity = identity,
                        RequestId = Guid.NewGuid().ToString(),
                        Attempt = activity.Attempt,
                        LastFailure = activity.LastFailure,
                    }).EventId;
            }

            writeOutcome(startedId);
        }, after);
    }

    public void ActivityTimedOut(WorkflowRun run, long scheduledId, int? attempt, TimeoutType type) => host.Locked(run, after =>
    {
        if (!run.IsRunning || !run.Activities.TryGetValue(scheduledId, out var activity) || activity.Closing
            || (attempt is { } a && a != activity.Attempt))
        {
            return;
        }

        switch (type)
        {
            case TimeoutType.ScheduleToStart when activity.Started || activity.Paused:
            case TimeoutType.StartToClose when !activity.Started:
                return;
            case TimeoutType.Heartbeat:
                if (!activity.Started)
                {
                    return;
                }

                var heartbeat = activity.Attributes.HeartbeatTimeout.ToTimeSpan();
                var due = activity.LastHeartbeat + heartbeat;
                if (due > Now)
                {
                    scheduler.At(due, () => ActivityTimedOut(run, scheduledId, attempt, TimeoutType.Heartbeat));
                    return;
                }

                break;
        }

        type = TimeoutPrecedence.First(activity, type, Now);

        // Only the previous attempt's own failure is kept as cause, not the chain of every attempt before it.
        var previous = activity.LastFailure?.Clone();
        previous?.Cause = null;
        var failure = ServerFailure($"activity {type} timeout", type, activity.HeartbeatDetails, previous);
        if (type is TimeoutType.StartToClose or TimeoutType.Heartbeat && !activity.CancelRequested
            && TryRetryActivity(run, activity, failure))
        {
            return;
        }

        var retryState = type is TimeoutType.StartToClose or TimeoutType.Heartbeat
            && RetryPolicies.Delay(activity.Attributes.RetryPolicy, activity.Attempt, failure) is null
                ? RetryState.MaximumAttemptsReached
                : RetryState.Timeout;
        CloseActivity(run, activity, activity.StartedIdentity, after, startedId => run.Add(EventType.ActivityTaskTimedOut, e => e
            .ActivityTaskTimedOutEventAttributes = new ActivityTaskTimedOutEventAttributes
            {
                Failure = failure,
                ScheduledEventId = scheduledId,
                StartedEventId = startedId,
                RetryState = retryState,
            }));
    });

    public static void CancelActivity(WorkflowRun run, long scheduledId, long completedId)
    {
        var activity = run.Activities[scheduledId];
        var requested = run.Add(EventType.ActivityTaskCancelRequested, e => e.ActivityTaskCancelRequestedEventAttributes
            = new ActivityTaskCancelRequestedEventAttributes
            {
                ScheduledEventId = scheduledId,
                WorkflowTaskCompletedEventId = completedId,
            });
        if (!activity.Started && !activity.Closing)
        {
            // Nobody holds the task, so it is cancelled right away; a started one learns it from its heartbeat.
            activity.MarkClosing();
            run.Add(EventType.ActivityTaskCanceled, e => e.ActivityTaskCanceledEventAttributes = new ActivityTaskCanceledEventAttributes
            {
                LatestCancelRequestedEventId = requested.EventId,
                ScheduledEventId = scheduledId,
            });
        }
    }

    private static Failure ServerFailure(string message, TimeoutType? timeout = null, Payloads? lastHeartbeat = null, Failure? cause = null)
    {
        var failure = new Failure { Message = message, Source = "Server", Cause = cause };
        if (timeout is { } t)
        {
            failure.TimeoutFailureInfo = new TimeoutFailureInfo { TimeoutType = t, LastHeartbeatDetails = lastHeartbeat };
        }
        else
        {
            failure.ServerFailureInfo = new ServerFailureInfo();
        }

        return failure;
    }
}
