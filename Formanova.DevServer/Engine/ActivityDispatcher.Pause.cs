using Temporalio.Api.Enums.V1;
using Temporalio.Api.Failure.V1;
using Temporalio.Api.Workflow.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

/// <summary>Pause, unpause and reset of one activity; the run's lock is held by the caller.</summary>
internal sealed partial class ActivityDispatcher
{
    public void Pause(WorkflowRun run, ActivityState activity, string identity, string reason)
    {
        if (!activity.Paused)
        {
            // A queued copy is skipped when polled, and a pending retry does not dispatch: nothing else to undo.
            activity.Pause(ActivityState.ManualPause(Now, identity, reason));
        }
    }

    /// <summary>Lifts the pause; an activity that is not running gets its next attempt now, or within the jitter.</summary>
    public void Unpause(WorkflowRun run, ActivityState activity, bool resetAttempts, bool resetHeartbeat, TimeSpan jitter)
    {
        if (!activity.Paused)
        {
            return;
        }

        activity.Unpause();
        if (resetAttempts)
        {
            Reset(run, activity, resetHeartbeat, keepPaused: false, jitter);
            return;
        }

        if (resetHeartbeat)
        {
            activity.ClearHeartbeat();
            run.UnpersistedActivities.Add(new ActivityRecord(activity.ScheduledEventId, activity.Attempt, new()));
        }

        if (!activity.Started)
        {
            Redispatch(run, activity, activity.NextDispatch(), jitter);
        }
    }

    /// <summary>
    /// Back to attempt 1. A running attempt hears of it in its heartbeat (activity_reset) and the attempt after
    /// it starts at 1 without backoff; one that is waiting starts again at once, unless it stays paused.
    /// </summary>
    public void Reset(WorkflowRun run, ActivityState activity, bool resetHeartbeat, bool keepPaused, TimeSpan jitter)
    {
        if (!keepPaused)
        {
            activity.Unpause();
        }

        if (activity.Started)
        {
            activity.RequestReset(resetHeartbeat);
            return;
        }

        var seq = activity.RestartAttempts(Now, resetHeartbeat, null);
        RecordRestart(run, activity, resetHeartbeat);
        if (!activity.Paused)
        {
            Redispatch(run, activity, seq, jitter);
        }
    }

    /// <summary>The retry after an attempt that ended while a reset was requested: attempt 1, at once.</summary>
    private bool RetryAfterReset(WorkflowRun run, ActivityState activity, Failure failure)
    {
        var resetHeartbeat = activity.ResetHeartbeatRequested;
        var seq = activity.RestartAttempts(Now, resetHeartbeat, failure);
        RecordRestart(run, activity, resetHeartbeat);
        if (!activity.Paused)
        {
            Redispatch(run, activity, seq, TimeSpan.Zero);
        }

        return true;
    }

    /// <summary>Attempt 0 in the side table: nothing is running and the count starts again (heartbeat cleared if asked).</summary>
    private static void RecordRestart(WorkflowRun run, ActivityState activity, bool resetHeartbeat)
    {
        run.UnpersistedActivities.Add(new ActivityRecord(activity.ScheduledEventId, 0));
        if (resetHeartbeat)
        {
            run.UnpersistedActivities.Add(new ActivityRecord(activity.ScheduledEventId, 0, new()));
        }
    }

    private void Redispatch(WorkflowRun run, ActivityState activity, int seq, TimeSpan jitter)
    {
        var delay = jitter > TimeSpan.Zero ? TimeSpan.FromTicks(Random.Shared.NextInt64(jitter.Ticks)) : TimeSpan.Zero;
        scheduler.After(delay, () => host.Locked(run, later =>
        {
            if (run.IsRunning && run.Activities.TryGetValue(activity.ScheduledEventId, out var current) && current == activity
                && activity.DispatchSeq == seq && !activity.Closing && !activity.Started && !activity.Paused)
            {
                DispatchActivity(run, activity, later);
            }
        }));
    }

    /// <summary>What a heartbeat tells the running attempt: cancellation, a pause or a reset.</summary>
    public static RecordActivityTaskHeartbeatResponse HeartbeatResponse(ActivityState activity) => new()
    {
        CancelRequested = activity.CancelRequested,
        ActivityPaused = activity.Paused,
        ActivityReset = activity.ResetRequested,
    };

    /// <summary>DescribeWorkflowExecution: a paused activity is PAUSED, or PAUSE_REQUESTED while an attempt still runs.</summary>
    public static PendingActivityInfo DescribePause(ActivityState activity, PendingActivityInfo info)
    {
        if (activity.PauseInfo is { } pause)
        {
            info.Paused = true;
            info.PauseInfo = pause;
            info.State = activity.Started ? PendingActivityState.PauseRequested : PendingActivityState.Paused;
        }

        return info;
    }
}
