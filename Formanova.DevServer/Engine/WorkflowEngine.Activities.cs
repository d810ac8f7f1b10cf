using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Command.V1;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.Failure.V1;
using Temporalio.Api.History.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

internal sealed partial class WorkflowEngine
{
    // Seed policy for activities scheduled without one.
    private static readonly RetryPolicy DefaultRetryPolicy = new()
    {
        InitialInterval = Duration.FromTimeSpan(TimeSpan.FromSeconds(1)),
        BackoffCoefficient = 2.0,
        MaximumInterval = Duration.FromTimeSpan(TimeSpan.FromSeconds(60)),
        MaximumAttempts = 5,
    };

    private static RetryPolicy CompleteRetryPolicy(RetryPolicy? policy)
    {
        if (policy is null)
        {
            return DefaultRetryPolicy.Clone();
        }

        var result = policy.Clone();
        if (Positive(result.InitialInterval) is null)
        {
            result.InitialInterval = DefaultRetryPolicy.InitialInterval;
        }

        if (result.BackoffCoefficient < 1)
        {
            result.BackoffCoefficient = 2.0;
        }

        if (Positive(result.MaximumInterval) is null)
        {
            result.MaximumInterval = Duration.FromTimeSpan(result.InitialInterval.ToTimeSpan() * 100);
        }

        return result;
    }

    /// <summary>Delay before the next attempt, or null when the policy says stop.</summary>
    private static TimeSpan? RetryDelay(RetryPolicy policy, int attempt, Failure? failure)
    {
        if (policy.MaximumAttempts == 1 || (policy.MaximumAttempts > 0 && attempt >= policy.MaximumAttempts))
        {
            return null;
        }

        if (failure?.ApplicationFailureInfo is { } app)
        {
            if (app.NonRetryable || policy.NonRetryableErrorTypes.Contains(app.Type))
            {
                return null;
            }

            if (Positive(app.NextRetryDelay) is { } explicitDelay)
            {
                return explicitDelay;
            }
        }

        var initial = Positive(policy.InitialInterval) ?? TimeSpan.FromSeconds(1);
        var coefficient = policy.BackoffCoefficient < 1 ? 2.0 : policy.BackoffCoefficient;
        var delay = initial * Math.Pow(coefficient, attempt - 1);
        if (Positive(policy.MaximumInterval) is { } max && delay > max)
        {
            delay = max;
        }

        return delay;
    }

    /// <summary>
    /// Schedules the activity; one the worker asked to run eagerly on the workflow's own queue is added to
    /// <paramref name="eager"/> instead of the queue, to be started in the workflow task's response.
    /// </summary>
    private void ScheduleActivity(
        WorkflowRun run,
        ScheduleActivityTaskCommandAttributes c,
        long completedId,
        List<Action> after,
        List<ActivityState> eager)
    {
        // Every timeout is filled in, as workers rely on them (ScheduleToClose bounded by the run timeout).
        var runTimeout = Positive(run.Start.WorkflowRunTimeout);
        var scheduleToClose = Positive(c.ScheduleToCloseTimeout) ?? runTimeout ?? TimeSpan.Zero;
        var startToClose = Positive(c.StartToCloseTimeout) ?? scheduleToClose;
        var scheduleToStart = Positive(c.ScheduleToStartTimeout) ?? scheduleToClose;
        var scheduled = run.Add(EventType.ActivityTaskScheduled, e => e.ActivityTaskScheduledEventAttributes
            = new ActivityTaskScheduledEventAttributes
            {
                ActivityId = c.ActivityId,
                ActivityType = c.ActivityType,
                TaskQueue = string.IsNullOrEmpty(c.TaskQueue?.Name) ? run.Start.TaskQueue : c.TaskQueue,
                Header = c.Header,
                Input = c.Input,
                ScheduleToCloseTimeout = Duration.FromTimeSpan(scheduleToClose),
                ScheduleToStartTimeout = Duration.FromTimeSpan(scheduleToStart),
                StartToCloseTimeout = Duration.FromTimeSpan(startToClose),
                HeartbeatTimeout = Duration.FromTimeSpan(Positive(c.HeartbeatTimeout) ?? TimeSpan.Zero),
                WorkflowTaskCompletedEventId = completedId,
                RetryPolicy = CompleteRetryPolicy(c.RetryPolicy),
                Priority = c.Priority,
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

    private void ArmScheduleToClose(WorkflowRun run, ActivityState activity)
    {
        if (Positive(activity.Attributes.ScheduleToCloseTimeout) is { } s2c)
        {
            var id = activity.ScheduledEventId;
            _scheduler.At(activity.ScheduledTime + s2c, run, r => ActivityTimedOut(r, id, null, TimeoutType.ScheduleToClose));
        }
    }

    private void DispatchActivity(WorkflowRun run, ActivityState activity, List<Action> after)
    {
        var seq = activity.NextDispatch();
        var item = new ActivityTaskRef(run, activity.ScheduledEventId, seq);
        var queue = ActivityQueue(run.Namespace, activity.Attributes.TaskQueue.Name);
        after.Add(() => queue.Add(item));
        if (Positive(activity.Attributes.ScheduleToStartTimeout) is { } s2s && s2s != Positive(activity.Attributes.ScheduleToCloseTimeout))
        {
            var attempt = activity.Attempt;
            _scheduler.After(s2s, () => ActivityTimedOut(run, activity.ScheduledEventId, attempt, TimeoutType.ScheduleToStart));
        }
    }

    public async Task<PollActivityTaskQueueResponse> PollActivityTaskQueueAsync(
        PollActivityTaskQueueRequest request,
        global::Grpc.Core.ServerCallContext context)
    {
        RequireNamespace(request.Namespace);
        if (string.IsNullOrEmpty(request.TaskQueue?.Name))
        {
            throw Errors.InvalidArgument("TaskQueue is not set on request.");
        }

        return await LongPollAsync(
            ActivityQueue(request.Namespace, request.TaskQueue.Name),
            context,
            item => TryStartActivity(item, request.Identity));
    }

    private PollActivityTaskQueueResponse? TryStartActivity(ActivityTaskRef item, string identity)
    {
        var run = item.Run;
        return Locked(run, _ =>
        {
            if (!run.IsRunning || !run.Activities.TryGetValue(item.ScheduledEventId, out var activity)
                || activity.Started || activity.Closing || activity.DispatchSeq != item.Seq)
            {
                return null;
            }

            return StartActivityLocked(run, activity, identity);
        });
    }

    private PollActivityTaskQueueResponse StartActivityLocked(WorkflowRun run, ActivityState activity, string identity)
    {
        var now = Now;
        activity.Start(now, identity);
        var attempt = activity.Attempt;
        var scheduledId = activity.ScheduledEventId;
        run.UnpersistedActivities.Add(new ActivityRecord(scheduledId, attempt));
        var a = activity.Attributes;
        if (Positive(a.StartToCloseTimeout) is { } startToClose)
        {
            _scheduler.After(startToClose, run, r => ActivityTimedOut(r, scheduledId, attempt, TimeoutType.StartToClose));
        }

        if (Positive(a.HeartbeatTimeout) is { } heartbeat)
        {
            _scheduler.After(heartbeat, run, r => ActivityTimedOut(r, scheduledId, attempt, TimeoutType.Heartbeat));
        }

        return new PollActivityTaskQueueResponse
        {
            TaskToken = Token("a", run.Namespace, run.RunId, scheduledId, attempt),
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

    /// <summary>Resolves a task token (or workflow/activity id) to a started attempt of a pending activity.</summary>
    public (WorkflowRun Run, long ScheduledId, int Attempt) ResolveActivityToken(Google.Protobuf.ByteString token, string ns)
    {
        var fields = ParseToken(token, 'a', 5);
        if (!string.IsNullOrEmpty(ns) && ns != fields[1])
        {
            throw Errors.InvalidArgument("Task token does not belong to the request namespace.");
        }

        return (RunFromToken(fields[1], fields[2]), ParseLong(fields[3]), (int)ParseLong(fields[4]));
    }

    public (WorkflowRun Run, long ScheduledId, int Attempt) ResolveActivityById(
        string ns,
        string workflowId,
        string runId,
        string activityId)
    {
        RequireNamespace(ns);
        if (string.IsNullOrEmpty(activityId))
        {
            throw Errors.InvalidArgument("ActivityId is not set on request.");
        }

        var run = FindRun(ns, new WorkflowExecution { WorkflowId = workflowId, RunId = runId });
        lock (run.Gate)
        {
            var activity = run.Activities.Values.FirstOrDefault(a => a.Attributes.ActivityId == activityId)
                ?? throw Errors.NotFound($"Activity {activityId} not found.");
            return (run, activity.ScheduledEventId, activity.Attempt);
        }
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

    public bool Heartbeat((WorkflowRun Run, long ScheduledId, int Attempt) target, Payloads? details) => Locked(target.Run, _ =>
    {
        var activity = RequireStartedActivity(target.Run, target.ScheduledId, target.Attempt);
        activity.RecordHeartbeat(Now, details);
        if (details is not null)
        {
            target.Run.UnpersistedActivities.Add(new ActivityRecord(target.ScheduledId, target.Attempt, details));
        }

        return activity.CancelRequested;
    });

    public void CompleteActivity(
        (WorkflowRun Run, long ScheduledId, int Attempt) target,
        Payloads? result,
        string identity) => Locked(target.Run, after =>
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
        string identity) => Locked(target.Run, after =>
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
        string identity) => Locked(target.Run, after =>
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

        var retryState = activity.Attributes.RetryPolicy.MaximumAttempts > 0 && activity.Attempt >= activity.Attributes.RetryPolicy.MaximumAttempts ? RetryState.MaximumAttemptsReached : RetryState.NonRetryableFailure;
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
        if (RetryDelay(activity.Attributes.RetryPolicy, activity.Attempt, failure) is not { } delay)
        {
            return false;
        }

        var next = Now + delay;
        if (Positive(activity.Attributes.ScheduleToCloseTimeout) is { } s2c && next >= activity.ScheduledTime + s2c)
        {
            return false;
        }

        var seq = activity.ScheduleRetry(failure, next);
        _scheduler.At(next, () => Locked(run, later =>
        {
            if (run.IsRunning && run.Activities.TryGetValue(activity.ScheduledEventId, out var current) && current == activity
                && activity.DispatchSeq == seq && !activity.Closing)
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
        WriteOrBuffer(run, () =>
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

    private void ActivityTimedOut(WorkflowRun run, long scheduledId, int? attempt, TimeoutType type) => Locked(run, after =>
    {
        if (!run.IsRunning || !run.Activities.TryGetValue(scheduledId, out var activity) || activity.Closing
            || (attempt is { } a && a != activity.Attempt))
        {
            return;
        }

        switch (type)
        {
            case TimeoutType.ScheduleToStart when activity.Started:
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
                    _scheduler.At(due, () => ActivityTimedOut(run, scheduledId, attempt, TimeoutType.Heartbeat));
                    return;
                }

                break;
        }

        // Only the previous attempt's own failure is kept as cause, not the chain of every attempt before it.
        var previous = activity.LastFailure?.Clone();
        previous?.Cause = null;
        var failure = ServerFailure($"activity {type} timeout", type, activity.HeartbeatDetails, previous);
        if (type is TimeoutType.StartToClose or TimeoutType.Heartbeat && !activity.CancelRequested
            && TryRetryActivity(run, activity, failure))
        {
            return;
        }

        var retryState = type is TimeoutType.StartToClose or TimeoutType.Heartbeat && RetryDelay(activity.Attributes.RetryPolicy, activity.Attempt, failure) is null ? RetryState.MaximumAttemptsReached : RetryState.Timeout;
        CloseActivity(run, activity, activity.StartedIdentity, after, startedId => run.Add(EventType.ActivityTaskTimedOut, e => e
            .ActivityTaskTimedOutEventAttributes = new ActivityTaskTimedOutEventAttributes
            {
                Failure = failure,
                ScheduledEventId = scheduledId,
                StartedEventId = startedId,
                RetryState = retryState,
            }));
    });

    private static void CancelActivity(WorkflowRun run, long scheduledId, long completedId)
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
}
