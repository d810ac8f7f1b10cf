using Formanova.DevServer.Schedules;

namespace Formanova.DevServer.Engine;

internal sealed partial class WorkflowEngine
{
    private ScheduleManager? _scheduleManager;

    /// <summary>Schedules (Formanova.DevServer/Schedules), created on first use.</summary>
    public ScheduleManager Schedules => LazyInitializer.EnsureInitialized(
        ref _scheduleManager,
        () => new ScheduleManager(this, _scheduler, _store, _clock, _logger));

    /// <summary>Tells the schedule that started a run that it closed; called after the run's lock is released.</summary>
    private void NotifySchedules(WorkflowRun run) => _scheduleManager?.OnRunClosed(run);
}
