using Temporalio.Api.Common.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

/// <summary>
/// PauseActivity, UnpauseActivity and ResetActivity. The pause is kept in the <c>activity_pauses</c> side
/// table (written before the RPC answers) and the restarted attempt count in <c>activity_attempts</c>, so
/// both survive a restart; like Temporal, neither writes a history event.
/// </summary>
internal sealed partial class WorkflowEngine
{
    /// <summary>Which pending activities a request names: by id (exactly one), by type, or all of them.</summary>
    private readonly record struct ActivitySelector(string? Id, string? Type, bool All)
    {
        public List<ActivityState> Match(WorkflowRun run)
        {
            if (!All && string.IsNullOrEmpty(Id) && string.IsNullOrEmpty(Type))
            {
                throw Errors.InvalidArgument("Either the activity id or the activity type must be set.");
            }

            var (id, type, all) = (Id, Type, All);
            var matches = run.Activities.Values
                .Where(a => !a.Closing && (all
                    || (!string.IsNullOrEmpty(id) && a.Attributes.ActivityId == id)
                    || (!string.IsNullOrEmpty(type) && a.Attributes.ActivityType.Name == type)))
                .ToList();
            return matches.Count == 0 && !all
                ? throw Errors.NotFound($"No pending activity with {(string.IsNullOrEmpty(Id) ? $"type {Type}" : $"id {Id}")}.")
                : matches;
        }
    }

    public void PauseActivity(PauseActivityRequest r) =>
        ChangeActivities(r.Namespace, r.Execution, new ActivitySelector(r.Id, r.Type, false), (run, activity) =>
        {
            _activities.Pause(run, activity, r.Identity, r.Reason);
            _store.SaveActivityPause(run.RunId, activity.ScheduledEventId, activity.PauseInfo);
        });

    public void UnpauseActivity(UnpauseActivityRequest r)
    {
        var jitter = Durations.Positive(r.Jitter) ?? TimeSpan.Zero;
        ChangeActivities(r.Namespace, r.Execution, new ActivitySelector(r.Id, r.Type, r.UnpauseAll), (run, activity) =>
        {
            if (activity.Paused)
            {
                _activities.Unpause(run, activity, r.ResetAttempts, r.ResetHeartbeat, jitter);
                _store.SaveActivityPause(run.RunId, activity.ScheduledEventId, null);
            }
        });
    }

    /// <summary>restore_original_options has nothing to do: activity options cannot be changed here.</summary>
    public void ResetActivity(ResetActivityRequest r)
    {
        var jitter = Durations.Positive(r.Jitter) ?? TimeSpan.Zero;
        ChangeActivities(r.Namespace, r.Execution, new ActivitySelector(r.Id, r.Type, r.MatchAll), (run, activity) =>
        {
            var wasPaused = activity.Paused;
            _activities.Reset(run, activity, r.ResetHeartbeat, r.KeepPaused, jitter);
            if (wasPaused && !activity.Paused)
            {
                _store.SaveActivityPause(run.RunId, activity.ScheduledEventId, null);
            }
        });
    }

    private void ChangeActivities(
        string ns,
        WorkflowExecution? execution,
        ActivitySelector selector,
        Action<WorkflowRun, ActivityState> change)
    {
        RequireNamespace(ns);
        var run = FindRun(ns, execution);
        Locked(run, _ =>
        {
            if (!run.IsRunning)
            {
                throw Errors.FailedPrecondition("Workflow execution already completed.");
            }

            foreach (var activity in selector.Match(run))
            {
                change(run, activity);
            }
        });
    }

    /// <summary>Recovery: pauses recorded before the restart apply again before anything is dispatched.</summary>
    private static void RestorePauses(WorkflowRun run, StoredRun stored)
    {
        foreach (var (scheduledId, pause) in stored.ActivityPauses)
        {
            if (run.Activities.TryGetValue(scheduledId, out var activity))
            {
                activity.Pause(pause);
            }
        }
    }
}
