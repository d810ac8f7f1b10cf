using FluentValidation;
using Formanova.Host.Monitoring;
using Formanova.Host.Workflows.Monitoring;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Formanova.Host.Workflows.Api;

/// <summary>
/// A monitoring policy as the API takes it (docs/monitoring.md): checks every <see cref="IntervalMinutes"/> over the
/// last <see cref="WindowMinutes"/> of traffic; absent thresholds and actions take their defaults.
/// </summary>
internal sealed record MonitoringPolicyBody(
    bool Enabled = true,
    double IntervalMinutes = 60,
    double WindowMinutes = 60,
    MonitoringThresholds? Thresholds = null,
    MonitoringActions? Actions = null);

/// <summary>A model's monitoring: its policy and schedule, the latest check and the checks over the period asked.</summary>
internal sealed record MonitoringView(
    string Model,
    MonitoringPolicy? Policy,
    string? Schedule,
    IReadOnlyList<DateTime> NextChecks,
    MonitoringCheck? Latest,
    IReadOnlyList<MonitoringCheck> Checks);

/// <summary>A check run now: its workflow (which goes on to retrain and roll out if the policy says so) and the check.</summary>
internal sealed record MonitoringCheckRun(string RunId, string Location, string Stage, MonitoringCheck? Check);

/// <summary>Monitoring (docs/monitoring.md): a model's policy, its checks' time series, and a check now.</summary>
internal static class MonitoringEndpoints
{
    private static readonly RequiredScopeMetadata AdminScope = new(ApiScopes.Admin);

    private static readonly MonitoringCheck ExampleCheck = new(
        "churn",
        "1.2.0",
        new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero),
        new DateTimeOffset(2026, 12, 7, 11, 0, 0, TimeSpan.Zero),
        new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero),
        "drift",
        4210,
        [
            new FeatureDrift("monthly_charges", 0.61, "significant", 4210, 0, 0, 0.18, 0, true, ["featureDrift", "outOfRange"]),
            new FeatureDrift("contract", 0.02, "stable", 4210, 0, 0, 0, 0, false, []),
        ],
        0.07,
        new PerformanceCheck("accuracy", 0.84, 0.81, 380, 0.0357, false),
        ["feature:monthly_charges:featureDrift", "feature:monthly_charges:outOfRange"],
        ["emit:MODEL_DRIFT_DETECTED", "retrain:experiment"]);

    private static readonly MonitoringExperiment ExampleExperiment = new(
        ExperimentMode.Canary,
        Canary: new CanaryPlan([0.1, 0.5, 1], TimeSpan.FromHours(1)),
        MinSamplesPerArm: 200,
        MaxDuration: TimeSpan.FromDays(7));

    private static readonly MonitoringPolicy ExamplePolicy = new(
        "churn",
        true,
        60,
        60,
        new MonitoringThresholds(),
        new MonitoringActions(Retrain: true, Rollout: MonitoringRollout.Experiment, Experiment: ExampleExperiment),
        new DateTimeOffset(2026, 12, 7, 9, 0, 0, TimeSpan.Zero));

    public static IEndpointRouteBuilder MapMonitoringEndpoints(this IEndpointRouteBuilder api)
    {
        var group = api.MapGroup("/models/{name}/monitoring").WithTags("Monitoring");
        group.MapPut("/policy", PutAsync).WithName("PutMonitoringPolicy").WithMetadata(AdminScope)
            .WithSummary("Set a model's monitoring policy")
            .WithDescription(
                "Creates or replaces the policy and its Temporal schedule (`model-monitoring-{name}`), which runs a "
                + "**ModelMonitoringWorkflow** every `intervalMinutes` (1–10080) over the last `windowMinutes` (1–43200) "
                + "of the active version's sampled traffic. `thresholds`: PSI per feature and of the predictions "
                + "(`featureDrift`, `predictionDrift`), data quality (`maxNullRateIncrease`, `maxOutOfRangeRate`, "
                + "`maxUnseenRate`), `maxPerformanceDrop` (relative, from feedback) and the rows a verdict needs "
                + "(`minRows`, `minFeedback`). `actions`: `notify` emits MODEL_DRIFT_DETECTED / MODEL_PERFORMANCE_DEGRADED; "
                + "`retrain` trains a new version with the version's own training settings (or `trainer`, e.g. `auto`), "
                + "at most once per `cooldownMinutes`, then `rollout`: `none` or `approval` (left registered), "
                + "`promote` (the promotion saga) or `experiment`: an experiment (its **ExperimentWorkflow** a child of "
                + "the check's run that outlives it) of the new version against the version active before, set by "
                + "`experiment` (`mode` split, shadow or canary, `candidateWeight`, `canary`, `primaryMetric`, "
                + "`minSamplesPerArm`, `alpha`, `evaluationInterval`, `maxDuration`, `guards`, `autoPromote`: checked as "
                + "`POST /experiments` checks them, a bad one is a 400 naming `actions.experiment.{field}`). "
                + "`enabled: false` keeps the policy without a schedule. Answers 200 with the policy.")
            .WithRequestExample(new MonitoringPolicyBody(true, 60, 60, new MonitoringThresholds(), ExamplePolicy.Actions))
            .WithResponseExample(ExamplePolicy);
        group.MapGet("/policy", GetPolicyAsync).WithName("GetMonitoringPolicy")
            .WithSummary("Get a model's monitoring policy")
            .WithDescription("The policy as stored; 404 when the model has none.")
            .WithResponseExample(ExamplePolicy);
        group.MapDelete("/policy", DeleteAsync).WithName("DeleteMonitoringPolicy").WithMetadata(AdminScope)
            .WithSummary("Delete a model's monitoring policy")
            .WithDescription(
                "Deletes the policy and its schedule; the checks so far are kept until retention. Answers 204; 404 when there "
                + "was none.");
        group.MapGet("/", GetAsync).WithName("GetModelMonitoring")
            .WithSummary("Get a model's monitoring")
            .WithDescription(
                "The policy, the schedule's next checks, the latest check and the checks in [`since`, `until`) (default: the "
                + "last 7 days), newest first, at most `limit` (1–1000, default 100). Each check gives per feature its PSI "
                + "and band (`stable` < 0.1 ≤ `moderate` < 0.25 ≤ `significant`), null, out-of-range and unseen rates, "
                + "the prediction drift, the live metric from feedback against training, the thresholds crossed "
                + "(`breaches`) and what the policy did (`actions`). A version trained before profiles existed is "
                + "`noProfile`, with a note.")
            .WithResponseExample(new MonitoringView("churn", ExamplePolicy, "model-monitoring-churn", [], ExampleCheck, [ExampleCheck]));
        group.MapPost("/check", CheckAsync).WithName("CheckModelMonitoring").WithMetadata(AdminScope)
            .WithSummary("Check a model now")
            .WithDescription(
                "Starts a **ModelMonitoringWorkflow** now and answers once its check is made (within "
                + "`Workflows:SyncTimeoutSeconds`), with the check; the run goes on to notify, retrain and roll out as the "
                + "policy says (follow it at `location`). 404 when the model has no policy.")
            .WithResponseExample(new MonitoringCheckRun(
                "model-monitoring-churn-0193a1b2c3d4", "/api/v1/jobs/model-monitoring-churn-0193a1b2c3d4", "retraining", ExampleCheck));
        return api;
    }

    private static async Task<Ok<MonitoringPolicy>> PutAsync(
        string name,
        MonitoringPolicyBody body,
        IModelModule models,
        IModelMonitoringModule monitoring,
        IExperimentModule experiments,
        MonitoringSchedules schedules,
        LiveProfiles live,
        TimeProvider clock,
        CancellationToken ct)
    {
        var model = await models.GetModelAsync(name, ct);
        if (body.Actions?.Experiment is { } experiment)
        {
            CheckExperiment(experiment, model.Name, experiments);
        }

        var previous = await monitoring.GetPolicyAsync(model.Name, ct);
        var policy = await monitoring.PutPolicyAsync(
            new MonitoringPolicy(
                model.Name,
                body.Enabled,
                body.IntervalMinutes,
                body.WindowMinutes,
                body.Thresholds ?? new MonitoringThresholds(),
                body.Actions ?? new MonitoringActions(),
                clock.GetUtcNow(),
                previous?.LastRetrainAt),
            ct);
        await schedules.ApplyAsync(policy, ct);
        if (policy.Enabled)
        {
            await live.WatchAsync(policy.Model, ct);
        }
        else
        {
            await live.UnwatchAsync(policy.Model, ct);
        }

        return TypedResults.Ok(policy);
    }

    /// <summary>The experiment settings checked now as the experiment's create will check them, named under the policy.</summary>
    private static void CheckExperiment(MonitoringExperiment experiment, string model, IExperimentModule experiments)
    {
        try
        {
            experiments.ValidateSettings(experiment.ToRequest("policy", model, "1.0.0", "1.0.1", ModelTask.BinaryClassification));
        }
        catch (ModuleException ex) when (ex.Kind == ErrorKind.Invalid)
        {
            var errors = ex.Errors.ToDictionary(e => $"actions.experiment.{e.Key}", e => e.Value);
            throw new ModuleException(ErrorKind.Invalid, ex.Message, errors, ex);
        }
    }

    private static async Task<Ok<MonitoringPolicy>> GetPolicyAsync(string name, IModelMonitoringModule monitoring, CancellationToken ct) =>
        TypedResults.Ok(await monitoring.GetPolicyAsync(name, ct) ?? throw NoPolicy(name));

    private static async Task<NoContent> DeleteAsync(
        string name,
        IModelMonitoringModule monitoring,
        MonitoringSchedules schedules,
        LiveProfiles live,
        MonitoringMetrics metrics,
        CancellationToken ct)
    {
        if (!await monitoring.DeletePolicyAsync(name, ct))
        {
            throw NoPolicy(name);
        }

        await schedules.DeleteAsync(name, ct);
        await live.UnwatchAsync(name, ct);
        metrics.Forget(name);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<MonitoringView>> GetAsync(
        string name,
        DateTimeOffset? since,
        DateTimeOffset? until,
        int? limit,
        IModelModule models,
        IModelMonitoringModule monitoring,
        MonitoringSchedules schedules,
        TimeProvider clock,
        CancellationToken ct)
    {
        var model = await models.GetModelAsync(name, ct);
        var to = until ?? clock.GetUtcNow().AddSeconds(1);
        var from = since ?? to.AddDays(-7);
        if (from >= to)
        {
            throw ModuleException.Invalid("until", "until must be after since.");
        }

        if (limit is < 1 or > 1000)
        {
            throw ModuleException.Invalid("limit", "limit must be between 1 and 1000.");
        }

        var policy = await monitoring.GetPolicyAsync(model.Name, ct);
        var checks = await monitoring.ListChecksAsync(model.Name, from, to, limit ?? 100, ct);
        var newest = await monitoring.ListChecksAsync(model.Name, DateTimeOffset.MinValue, clock.GetUtcNow().AddSeconds(1), 1, ct);
        var enabled = policy?.Enabled == true;
        return TypedResults.Ok(new MonitoringView(
            model.Name,
            policy,
            enabled ? MonitoringSchedules.IdOf(model.Name) : null,
            enabled ? await schedules.NextRunsAsync(model.Name, ct) : [],
            newest.Count > 0 ? newest[0] : null,
            checks));
    }

    private static async Task<Ok<MonitoringCheckRun>> CheckAsync(
        string name,
        IModelMonitoringModule monitoring,
        WorkflowGateway gateway,
        CancellationToken ct)
    {
        var policy = await monitoring.GetPolicyAsync(name, ct) ?? throw NoPolicy(name);
        var id = $"{MonitoringSchedules.IdOf(policy.Model)}-{Guid.CreateVersion7():N}";
        var input = new MonitoringRunInput(policy.Model, gateway.Policy());
        await gateway.StartAsync<ModelMonitoringWorkflow, MonitoringRunResult>(id, wf => wf.RunAsync(input), ct);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(TimeSpan.FromSeconds(gateway.Options.SyncTimeoutSeconds));
        MonitoringState? state = null;
        while (state?.Check is null && !wait.IsCancellationRequested)
        {
            state = await gateway.TryQueryAsync<ModelMonitoringWorkflow, MonitoringState>(id, wf => wf.GetState(), ct);
            if (state?.Check is null)
            {
                // The check is one activity: a short poll of the run's own query beats a second round of plumbing.
                await Task.Delay(100, CancellationToken.None);
            }
        }

        if (state?.Check is null)
        {
            // Closed before a query could see it (or still checking): the stored series has it once made.
            var now = DateTimeOffset.UtcNow;
            var checks = await monitoring.ListChecksAsync(policy.Model, now.AddMinutes(-5), now.AddSeconds(1), 1, ct);
            state = checks.Count > 0
                ? new MonitoringState("completed", checks[0], null, null, null, null)
                : new MonitoringState("checking", null, null, null, null, null);
        }

        return TypedResults.Ok(new MonitoringCheckRun(id, $"/api/v1/jobs/{id}", state.Stage, state.Check));
    }

    private static ModuleException NoPolicy(string name) =>
        new(ErrorKind.NotFound, $"Model '{name}' has no monitoring policy: PUT /api/v1/models/{name}/monitoring/policy first.");
}

internal sealed class MonitoringPolicyBodyValidator : AbstractValidator<MonitoringPolicyBody>
{
    public MonitoringPolicyBodyValidator()
    {
        RuleFor(b => b.IntervalMinutes).InclusiveBetween(1, 10_080);
        RuleFor(b => b.WindowMinutes).InclusiveBetween(1, 43_200);
        RuleFor(b => b.Thresholds!).SetValidator(new ThresholdsValidator()).When(b => b.Thresholds is not null);
        RuleFor(b => b.Actions!).SetValidator(new ActionsValidator()).When(b => b.Actions is not null);
    }

    private sealed class ThresholdsValidator : AbstractValidator<MonitoringThresholds>
    {
        public ThresholdsValidator()
        {
            RuleFor(t => t.FeatureDrift).InclusiveBetween(0.01, 10);
            RuleFor(t => t.PredictionDrift).InclusiveBetween(0.01, 10);
            RuleFor(t => t.MaxNullRateIncrease).InclusiveBetween(0, 1);
            RuleFor(t => t.MaxOutOfRangeRate).InclusiveBetween(0, 1);
            RuleFor(t => t.MaxUnseenRate).InclusiveBetween(0, 1);
            RuleFor(t => t.MaxPerformanceDrop).InclusiveBetween(0, 10);
            RuleFor(t => t.MinRows).InclusiveBetween(1, 100_000_000);
            RuleFor(t => t.MinFeedback).InclusiveBetween(1, 100_000_000);
        }
    }

    private sealed class ActionsValidator : AbstractValidator<MonitoringActions>
    {
        public ActionsValidator()
        {
            RuleFor(a => a.Rollout).Must((a, rollout) => rollout == MonitoringRollout.None || a.Retrain)
                .WithMessage("A rollout needs retrain: true (there is no new version to roll out otherwise).");
            RuleFor(a => a.Trainer).Must(t => t is null || (t.Trim().Length is > 0 and <= 100))
                .WithMessage("trainer is a trainer name (or auto) of at most 100 characters, or absent for the version's own.");
            RuleFor(a => a.CooldownMinutes).InclusiveBetween(0, 525_600);
            RuleFor(a => a.Experiment).Null().When(a => a.Rollout != MonitoringRollout.Experiment)
                .WithMessage("experiment sets up an experiment rollout: give it with rollout: experiment.");
            RuleFor(a => a.Experiment!.CandidateWeight).Must(w => w is > 0 and <= 1).When(a => a.Experiment is not null)
                .OverridePropertyName("experiment.candidateWeight")
                .WithMessage("candidateWeight is the new version's share of the traffic, in (0, 1].");
        }
    }
}
