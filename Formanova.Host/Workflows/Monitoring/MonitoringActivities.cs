using Formanova.Host.Monitoring;
using Formanova.Host.Workflows.Common;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Temporalio.Activities;
using Temporalio.Exceptions;

namespace Formanova.Host.Workflows.Monitoring;

/// <summary>The monitoring run's step: the check, and what the model's policy makes of it.</summary>
internal sealed class MonitoringActivities(
    IModelMonitoringModule monitoring,
    MonitoringChecker checker,
    RetrainPlanner planner,
    TimeProvider clock)
{
    [Activity("check_model")]
    public Task<MonitoringDecision> CheckModelAsync(string model) => ActivityErrors.GuardAsync(async () =>
    {
        var cancellation = ActivityExecutionContext.Current.CancellationToken;
        var policy = await monitoring.GetPolicyAsync(model, cancellation)
            ?? throw new ApplicationFailureException($"Model {model} has no monitoring policy.", ErrorTypes.NotFound, nonRetryable: true);
        var check = await checker.EvaluateAsync(policy, cancellation);
        var actions = policy.Actions;
        var events = new List<string>();
        if (actions.Notify && check.Breaches.Any(b => !b.StartsWith("performance:", StringComparison.Ordinal)))
        {
            events.Add(IEventModule.ModelDriftDetected);
        }

        if (actions.Notify && check.Performance?.Degraded == true)
        {
            events.Add(IEventModule.ModelPerformanceDegraded);
        }

        TrainingRunInputOrNote plan = new(null, null);
        if (actions.Retrain && check.Breaches.Count > 0 && check.Version is { } version)
        {
            var now = clock.GetUtcNow();
            plan = policy.LastRetrainAt is { } last && now < last.AddMinutes(actions.CooldownMinutes)
                ? new(null, $"Retraining waits for the cooldown until {last.AddMinutes(actions.CooldownMinutes):O}.")
                : await PlanAsync(model, version, actions.Trainer, now, cancellation);
        }

        var done = events.Select(e => $"emit:{e}").ToList();
        if (plan.Run is not null)
        {
            done.Add(actions.Rollout == MonitoringRollout.Promote ? "retrain:promote" : "retrain:approval");
        }

        await checker.RecordAsync(check with { Actions = done, Note = check.Note ?? plan.Note }, cancellation);
        return new MonitoringDecision(check with { Actions = done }, events, plan.Run, actions.Rollout, plan.Note);
    });

    private async Task<TrainingRunInputOrNote> PlanAsync(
        string model,
        string version,
        string? trainer,
        DateTimeOffset now,
        CancellationToken cancellation)
    {
        var (run, note) = await planner.PlanAsync(model, version, trainer, cancellation);
        if (run is not null)
        {
            await monitoring.MarkRetrainedAsync(model, now, cancellation);
        }

        return new(run, note);
    }

    private sealed record TrainingRunInputOrNote(Training.TrainingRunInput? Run, string? Note);
}
