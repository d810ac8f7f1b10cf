using Formanova.Host.Monitoring;
using Formanova.Host.Workflows.Common;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Errors;
using Temporalio.Activities;
using Temporalio.Exceptions;

namespace Formanova.Host.Workflows.Monitoring;

/// <summary>The monitoring run's step: the check, and what the model's policy makes of it.</summary>
internal sealed class MonitoringActivities(
    IModelMonitoringModule monitoring,
    IModelModule models,
    IExperimentModule experiments,
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
            done.Add(actions.Rollout switch
            {
                MonitoringRollout.Promote => "retrain:promote",
                MonitoringRollout.Experiment => "retrain:experiment",
                _ => "retrain:approval",
            });
        }

        var recorded = check with { Actions = done, Note = check.Note ?? plan.Note };
        await checker.RecordAsync(recorded, cancellation);
        var experiment = actions.Rollout == MonitoringRollout.Experiment ? actions.Experiment ?? new MonitoringExperiment() : null;
        return new MonitoringDecision(recorded, events, plan.Run, actions.Rollout, plan.Note, experiment);
    });

    /// <summary>
    /// Stores the rollout's experiment. A retry after the create went through finds its own experiment; another live
    /// experiment of the model, or a refusal (e.g. the versions predict different classes), is a note, not a failure:
    /// the new version stays registered either way.
    /// </summary>
    [Activity("create_rollout_experiment")]
    public Task<RolloutExperiment> CreateExperimentAsync(RolloutExperimentInput input) => ActivityErrors.GuardAsync(async () =>
    {
        var cancellation = ActivityExecutionContext.Current.CancellationToken;
        var task = (await models.GetVersionAsync(input.Model, input.Candidate, cancellation)).Task;
        var request = input.Settings.ToRequest(input.Name, input.Model, input.Control, input.Candidate, task);
        try
        {
            return new RolloutExperiment((await experiments.CreateAsync(request, cancellation)).Name, true, null);
        }
        catch (ModuleException ex) when (ex.Kind == ErrorKind.Conflict)
        {
            var all = await experiments.ListAsync(input.Model, cancellation);
            if (all.FirstOrDefault(e => e.Name == input.Name && e.Arms.Any(a => a.Version == input.Candidate)) is { } mine)
            {
                return new RolloutExperiment(mine.Name, true, null);
            }

            var live = all.FirstOrDefault(e => e.Status is ExperimentStatus.Running or ExperimentStatus.Paused);
            return new RolloutExperiment(input.Name, false, live is null
                ? $"The experiment could not be created: {ex.Message}"
                : $"{input.Model} already has the {live.Status.ToString().ToLowerInvariant()} experiment '{live.Name}'; "
                    + $"{input.Candidate} is left registered.");
        }
        catch (ModuleException ex) when (ex.Kind is ErrorKind.Invalid or ErrorKind.Unprocessable)
        {
            var fields = string.Join("; ", ex.Errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}"));
            return new RolloutExperiment(input.Name, false, $"The experiment could not be created: {ex.Message} {fields}".TrimEnd());
        }
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
