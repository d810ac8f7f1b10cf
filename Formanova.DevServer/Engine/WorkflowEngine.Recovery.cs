using Temporalio.Api.Enums.V1;
using Temporalio.Api.History.V1;

namespace Formanova.DevServer.Engine;

internal sealed partial class WorkflowEngine
{
    /// <summary>
    /// Rebuilds every run by replaying its event log, then re-arms what only lived in memory: timers,
    /// timeouts, task dispatch. A task that was running at the crash is timed out and retried.
    /// </summary>
    public void Recover()
    {
        RegisterNamespace("default", _options.DefaultNamespaceRetention, "Default namespace", failIfExists: false);
        foreach (var (name, retention, description) in _store.LoadNamespaces())
        {
            _namespaces.TryAdd(name, new NamespaceEntry(name, NamespaceId(name), retention, description));
        }

        foreach (var ns in _options.Namespaces)
        {
            RegisterNamespace(ns.Name, ns.Retention, "", failIfExists: false);
        }

        var sideState = new Dictionary<string, StoredRun>(StringComparer.Ordinal);
        var recovered = 0;
        _store.LoadRuns(s =>
        {
            var run = new WorkflowRun(s.Namespace, s.WorkflowId, s.RunId, s.RequestId, _clock);
            foreach (var e in s.Events)
            {
                run.Replay(e);
            }

            run.MarkPersisted();
            recovered++;
            _runs[run.RunId] = run;
            if (run.IsRunning)
            {
                sideState[run.RunId] = s;
                return;
            }

            // A closed run needs neither its side state nor, once replayed, its events in memory.
            s.Events.Clear();
            EvictIfClosed(run);
        });

        foreach (var group in _runs.Values.GroupBy(r => (r.Namespace, r.WorkflowId)))
        {
            foreach (var run in group.Where(r => r.NewRunId is not null))
            {
                if (_runs.GetValueOrDefault(run.NewRunId!) is { } next)
                {
                    run.LinkNextRun(next);
                }
            }

            var slot = _slots.GetOrAdd(group.Key, _ => new WorkflowSlot());
            slot.Current = group.OrderByDescending(r => r.StartTime).First();
        }

        foreach (var run in _runs.Values)
        {
            Resume(run, sideState.GetValueOrDefault(run.RunId));
        }

        if (recovered > 0)
        {
            _logger.LogInformation("Recovered {Count} runs from {Path}", recovered, _options.StoragePath);
        }

        Schedules.Recover();
    }

    private void Resume(WorkflowRun run, StoredRun? stored) => Locked(run, after =>
    {
        if (!run.IsRunning)
        {
            var retention = _namespaces.TryGetValue(run.Namespace, out var ns) ? ns.Retention : _options.DefaultNamespaceRetention;
            _scheduler.At(run.CloseTime!.Value + retention, () => DeleteIfExpired(run));
            return;
        }

        // Recover kept the side state of every run that is still running.
        ArgumentNullException.ThrowIfNull(stored);
        ArmRunTimeout(run);
        RestorePauses(run, stored);
        foreach (var (timerId, timer) in run.Timers)
        {
            ArmTimer(run, timerId, timer);
        }

        foreach (var activity in run.Activities.Values)
        {
            _activities.ArmScheduleToClose(run, activity);
            activity.KeepHeartbeatDetails(stored.HeartbeatDetails.GetValueOrDefault(activity.ScheduledEventId));
            // Attempt 0: restarted by a reset, nothing running (ActivityDispatcher.Pause.cs).
            if (stored.StartedAttempts.TryGetValue(activity.ScheduledEventId, out var attempt) && attempt > 0)
            {
                // The attempt that was running died with the server: it counts as a start-to-close timeout,
                // so the retry policy decides between the next attempt and failing the activity.
                activity.ResumeStarted(attempt, Now);
                var id = activity.ScheduledEventId;
                after.Add(() => _activities.ActivityTimedOut(run, id, attempt, TimeoutType.StartToClose));
            }
            else
            {
                _activities.DispatchActivity(run, activity, after);
            }
        }

        foreach (var child in run.Children.Values.Where(c => c.RunId is null))
        {
            var existing = _runs.Values.FirstOrDefault(
                r => r.Start.ParentWorkflowExecution?.RunId == run.RunId && r.Start.ParentInitiatedEventId == child.InitiatedEventId);
            if (existing is null)
            {
                var initiatedId = child.InitiatedEventId;
                var attributes = child.Attributes;
                after.Add(() => LaunchChild(run, initiatedId, attributes));
            }
            else
            {
                EnsureChildStarted(run, child.InitiatedEventId, existing.Execution);
            }
        }

        foreach (var initiated in run.PendingExternal.Values)
        {
            after.Add(() => DeliverExternal(run, initiated));
        }

        if (run.WtStarted)
        {
            var (scheduled, started) = (run.WtScheduledId, run.WtStartedId);
            run.Add(EventType.WorkflowTaskTimedOut, e => e.WorkflowTaskTimedOutEventAttributes = new WorkflowTaskTimedOutEventAttributes
            {
                ScheduledEventId = scheduled,
                StartedEventId = started,
                TimeoutType = TimeoutType.StartToClose,
            });
        }

        if (run.WtScheduledId != 0)
        {
            DispatchWorkflowTask(run, after);
            return;
        }

        var hadTask = run.History.Any(e => e.EventType == EventType.WorkflowTaskScheduled);
        var backoff = run.Start.FirstWorkflowTaskBackoff?.ToTimeSpan() ?? TimeSpan.Zero;
        if (!hadTask && backoff > TimeSpan.Zero)
        {
            _scheduler.At(run.StartTime + backoff, () => Locked(run, later => ScheduleWorkflowTask(run, later)));
            return;
        }

        // Anything after the last completed task (signals, results, a timed-out task) needs a new task.
        if (!hadTask || (run.History[^1].EventId > run.LastCompletedWtId && NeedsTask(run)))
        {
            ScheduleWorkflowTask(run, after);
        }
    });

    private static bool NeedsTask(WorkflowRun run) => run.History.Skip((int)run.LastCompletedWtId).Any(e => e.EventType is
        EventType.WorkflowTaskTimedOut or EventType.WorkflowTaskFailed or EventType.WorkflowExecutionSignaled
        or EventType.ActivityTaskCompleted or EventType.ActivityTaskFailed
        or EventType.ActivityTaskTimedOut or EventType.ActivityTaskCanceled
        or EventType.TimerFired or EventType.WorkflowExecutionCancelRequested or EventType.ChildWorkflowExecutionStarted
        or EventType.ChildWorkflowExecutionCompleted or EventType.ChildWorkflowExecutionFailed or EventType.ChildWorkflowExecutionCanceled
        or EventType.ChildWorkflowExecutionTerminated or EventType.ChildWorkflowExecutionTimedOut
        or EventType.StartChildWorkflowExecutionFailed
        or EventType.ExternalWorkflowExecutionSignaled or EventType.SignalExternalWorkflowExecutionFailed
        or EventType.ExternalWorkflowExecutionCancelRequested or EventType.RequestCancelExternalWorkflowExecutionFailed);
}
