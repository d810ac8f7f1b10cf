using System.Linq.Expressions;
using System.Text.Json;
using FluentValidation;
using Formanova.Host.Temporal;
using Formanova.Host.Workflows.Training;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;

namespace Formanova.Host.Workflows.Api;

internal sealed record TrainingRunBody(
    string? Model = null,
    string? Version = null,
    ModelTask? Task = null,
    long? DatasetId = null,
    List<TransformStep>? Transforms = null,
    string? Trainer = null,
    int Seed = 42,
    double TestFraction = 0.2,
    Dictionary<string, double>? MinMetrics = null,
    Dictionary<string, double>? MaxMetrics = null,
    bool Activate = false,
    bool RequireApproval = false,
    double? ApprovalTimeoutSeconds = null,
    List<string>? ExcludeColumns = null,
    string? SelectionMetric = null,
    double? TimeBudgetSeconds = null,
    TrainingScheduleSpec? Schedule = null,
    EnsembleSpec? Ensemble = null);

/// <summary>
/// A training run: live progress (the train step's last heartbeat included) while running, the stored outcome after.
/// <see cref="Report"/> is the training report of the version this run trained, from the registry, once it exists.
/// </summary>
internal sealed record TrainingRunView(
    string Id,
    string Status,
    string? Stage,
    double? ProgressPercent,
    TrainingHeartbeat? Training,
    TrainingProgressView? Progress,
    DateTime? StartedAt,
    DateTime? ClosedAt,
    JsonElement? Result,
    string? Error,
    IReadOnlyList<TrainingProblem>? Problems = null,
    TrainingReport? Report = null);

internal static class TrainingEndpoints
{
    private static readonly RequiredScopeMetadata AdminScope = new(ApiScopes.Admin);

    private const string ExampleRunId = "training-8f14e45fceea4167a5a36dedd4bea254";

    private static readonly JobAccepted TrainingAccepted = new(ExampleRunId, "accepted", $"/api/v1/training-runs/{ExampleRunId}");

    private static readonly TrainingRunView ExampleRunAwaitingApproval = new(
        ExampleRunId,
        "running",
        "awaiting-approval",
        90,
        null,
        new TrainingProgressView(
            "awaiting-approval",
            90,
            new DateTime(2026, 11, 26, 11, 58, 40, DateTimeKind.Utc),
            new PreparedTraining(
                [
                    new ModelColumn("tenure", ColumnKind.Numeric),
                    new ModelColumn("monthlyCharges", ColumnKind.Numeric),
                    new ModelColumn("contract", ColumnKind.Categorical),
                    new ModelColumn("churned", ColumnKind.Boolean, IsLabel: true),
                ],
                1,
                7043,
                0,
                ["customerId", "signupChannel"]),
            new TrainedVersion("churn", "1.2.0", "FastTree", new() { ["auc"] = 0.91, ["accuracy"] = 0.86 }, 5634, 1409, 4.2),
            new ModelValidationResult(true, []),
            null,
            new DateTime(2026, 11, 27, 12, 0, 2, DateTimeKind.Utc),
            []),
        new DateTime(2026, 11, 26, 11, 58, 40, DateTimeKind.Utc),
        null,
        null,
        null);

    /// <summary>The description of approve or reject: <paramref name="effect"/> is what the decision does.</summary>
    private static string ApprovalDescription(string decision, string effect) =>
        $"Sends the `{decision}` signal to a run started with `requireApproval`: once the run reaches "
        + $"`awaiting-approval` (its version registered, inactive), the decision {effect}. The first decision wins: once "
        + "the run's `approval` is set (approved, rejected or expired at `approvalDeadline`) another one is a 409, as is "
        + "a run that has closed. A decision sent before the run is awaiting approval is kept for when it gets there, "
        + "and one sent to a run without `requireApproval` does not change its outcome. Answers 204. The optional body (`by`, "
        + "`comment`) is accepted but not recorded.";

    public static IEndpointRouteBuilder MapTrainingEndpoints(this IEndpointRouteBuilder api)
    {
        var runs = api.MapGroup("/training-runs").WithTags("Training");
        runs.MapPost("/", StartAsync).WithName("StartTrainingRun").RequireRateLimiting(RateLimitPolicies.Expensive).WithIdempotencyKey()
            .WithSummary("Start a training run")
            .WithDescription(
                "Starts a **ModelTrainingWorkflow** that trains `model` version `version` for `task` on dataset "
                + "`datasetId` (after the request's `transforms`), validates its metrics against `minMetrics`/`maxMetrics`, "
                + "registers it and then activates it (`activate`), waits for an approval (`requireApproval`, until "
                + "`approvalTimeoutSeconds`), or leaves it inactive. `trainer: \"auto\"` first compares candidate "
                + "trainers within `timeBudgetSeconds` and trains the best by `selectionMetric`.\n\n"
                + "Answers **202** with the run id and `Location: /api/v1/training-runs/{id}` to poll. What can be known "
                + "before the run starts is answered now, and no run is started for it: an existing version is a 409 "
                + "naming `version`, an unknown dataset a 404 naming `datasetId`, a dataset without a label column or a "
                + "label that does not fit the task (regression needs a numeric label, binary exactly 2 values, "
                + "multiclass at least 2) a 422. Later failures are on the run (`error`, `problems`) and in a "
                + "TRAINING_FAILED event.\n\n"
                + "**Idempotency:** with an `Idempotency-Key` the run id derives from the key, so a repeat returns the "
                + "same run (running or closed) and never starts a second one; the same key with another body is a 409. "
                + "Rate-limited as an expensive operation.\n\n"
                + "**Schedule:** with `schedule` (`cron` or `intervalSeconds`, optional `timeZone`, `jitterSeconds`, "
                + "`paused`, `note`) no run starts now: a training schedule is created and answered **201** with "
                + "`Location: /api/v1/training/schedules/{id}`. Each firing starts this run on the dataset as it is then "
                + "(its latest schema version and rows), registering version `{major}.{yyyyMMdd}.{HHmmss}` of the run's "
                + "start in UTC (`version` gives the major number); a firing while the last run still runs is skipped.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .WithRequestExample(new TrainingRunBody(
                "churn",
                "1.2.0",
                ModelTask.BinaryClassification,
                7,
                Trainer: "FastTree",
                MinMetrics: new() { ["auc"] = 0.8 },
                RequireApproval: true,
                ApprovalTimeoutSeconds: 86400,
                ExcludeColumns: ["signupChannel"]))
            .WithResponseExample(TrainingAccepted, StatusCodes.Status202Accepted)
            .WithResponseExample(TrainingScheduleEndpoints.Example, StatusCodes.Status201Created);
        runs.MapGet("/{id}", GetAsync).WithName("GetTrainingRun")
            .WithSummary("Get a training run")
            .WithDescription(
                "The run's status (`running`, `completed`, `failed`, `cancelled`, `terminated`, `timedOut`) and stage. "
                + "While it runs: live `progress` (prepared data, metrics, validation, `approval` and "
                + "`approvalDeadline`, errors, the auto search's leaderboard) and, during training, the train step's "
                + "last heartbeat (`training`), which moves `progressPercent` between 20 and 80. Once closed: `result` "
                + "as the run stored it, or `error` and `problems` (the rows and columns at fault, at most 50). `report` "
                + "is the training report of the version this run registered, read from the registry. 404 when no "
                + "training run has this id (the answer names the path of another kind of run with it).")
            .WithResponseExample(ExampleRunAwaitingApproval);
        runs.MapPost("/{id}/approve", (string id, ApprovalDecision? decision, WorkflowGateway gateway, CancellationToken ct) =>
                DecideAsync(gateway, id, wf => wf.ApproveAsync(decision ?? new ApprovalDecision()), ct))
            .WithName("ApproveTrainingRun")
            .WithMetadata(AdminScope)
            .WithSummary("Approve a training run's version")
            .WithDescription(ApprovalDescription("approve", "activates the version and the run completes `activated`"))
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithRequestExample(new ApprovalDecision("mlops-lead", "AUC 0.91 on the holdout; ship it."));
        runs.MapPost("/{id}/reject", (string id, ApprovalDecision? decision, WorkflowGateway gateway, CancellationToken ct) =>
                DecideAsync(gateway, id, wf => wf.RejectAsync(decision ?? new ApprovalDecision()), ct))
            .WithName("RejectTrainingRun")
            .WithMetadata(AdminScope)
            .WithSummary("Reject a training run's version")
            .WithDescription(ApprovalDescription(
                "reject", "archives the version and the run completes `registered, not activated (rejected)`"))
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithRequestExample(new ApprovalDecision("mlops-lead", "Recall on the churners is too low."));
        runs.MapPost("/{id}/cancel", async (string id, WorkflowGateway gateway, CancellationToken ct) =>
        {
            await gateway.CancelAsync<ModelTrainingWorkflow>(id, ct);
            return TypedResults.Accepted($"/api/v1/training-runs/{id}", new JobAccepted(id, "cancelling", $"/api/v1/training-runs/{id}"));
        }).WithName("CancelTrainingRun")
            .WithSummary("Cancel a training run")
            .WithDescription(
                "Requests Temporal's cancellation of the running run: the step in flight is cancelled, the error is "
                + "recorded and WORKFLOW_FAILED is emitted, and the run closes `cancelled`. Answers 202 with "
                + "`Location` to poll; a run that has already closed is a 409.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithResponseExample(TrainingAccepted with { Status = "cancelling" }, StatusCodes.Status202Accepted);
        return api;
    }

    private static async Task<Results<Accepted<JobAccepted>, Created<TrainingScheduleView>>> StartAsync(
        TrainingRunBody body,
        HttpContext http,
        WorkflowGateway gateway,
        IDataModule data,
        IModelModule models,
        IOptions<TemporalOptions> temporal,
        TimeProvider time,
        CancellationToken ct)
    {
        var auto = AutoTrainingSteps.IsAuto(body.Trainer);
        if (auto)
        {
            // An unknown selection metric is a 400 naming selectionMetric, before any run starts.
            models.PlanAutoTraining(body.Task!.Value, body.SelectionMetric);
        }

        // What can be known now is answered now (TrainingRunPreCheck): the activities check again for runs started
        // elsewhere. A repeated request with the same Idempotency-Key is no conflict with the version its run made. A
        // schedule's runs register versions of their own start time: the check takes the one a run now would.
        var check = body.Schedule is null
            ? body
            : body with { Version = TrainingVersions.Scheduled(TrainingVersions.Major(body.Version!), time.GetUtcNow().UtcDateTime) };
        await new TrainingRunPreCheck(data, models).CheckAsync(check, IdempotencyKey.Read(http)?.Scoped("training"), ct);

        var options = gateway.Options.Training;
        var input = new TrainingRunInput(
            body.Model!,
            body.Version!,
            body.Task!.Value,
            body.DatasetId!.Value,
            body.Transforms,
            body.Trainer,
            body.Seed,
            body.TestFraction,
            body.MinMetrics ?? [],
            body.MaxMetrics ?? [],
            body.Activate,
            body.RequireApproval,
            body.ApprovalTimeoutSeconds
                ?? options.ApprovalTimeoutSeconds,
            options.TrainMaximumAttempts,
            gateway.Policy(),
            body.ExcludeColumns,
            body.SelectionMetric,
            auto ? body.TimeBudgetSeconds ?? options.AutoTimeBudgetSeconds : null,
            options.AutoParallelism,
            Ensemble: body.Ensemble);
        if (body.Schedule is not null)
        {
            return await TrainingScheduleEndpoints.CreateAsync(body, input, http, gateway, temporal.Value, ct);
        }

        var id = await gateway.StartIdAsync("training", http, WorkflowGateway.HashOf(body), ct);
        await gateway.StartAsync<ModelTrainingWorkflow, TrainingRunResult>(id, wf => wf.RunAsync(input), ct);
        return TypedResults.Accepted($"/api/v1/training-runs/{id}", new JobAccepted(id, "accepted", $"/api/v1/training-runs/{id}"));
    }

    internal static async Task<NoContent> DecideAsync(
        WorkflowGateway gateway,
        string id,
        Expression<Func<ModelTrainingWorkflow, Task>> decision,
        CancellationToken ct)
    {
        var progress = await gateway.TryQueryAsync<ModelTrainingWorkflow, TrainingProgressView>(id, wf => wf.GetProgress(), ct);
        if (progress is { Approval: not null })
        {
            throw new ModuleException(ErrorKind.Conflict, $"'{id}' was already {progress.Approval}.");
        }

        await gateway.SignalAsync(id, decision, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<TrainingRunView>> GetAsync(
        string id,
        WorkflowGateway gateway,
        IDataModule data,
        IModelModule models,
        CancellationToken ct) =>
        TypedResults.Ok(await ViewAsync(gateway, data, models, id, null, ct));

    /// <summary>
    /// The run as GET /training-runs/{id} shows it; GET /jobs/{id} passes the description it already has, and no
    /// <paramref name="models"/>, since its common view leaves the report out.
    /// </summary>
    public static async Task<TrainingRunView> ViewAsync(
        WorkflowGateway gateway,
        IDataModule data,
        IModelModule? models,
        string id,
        WorkflowExecutionDescription? described,
        CancellationToken ct)
    {
        var run = await gateway.ReadRunAsync<ModelTrainingWorkflow, TrainingProgressView>(data, id, wf => wf.GetProgress(), ct, described);
        var description = run.Description;
        if (run.Running)
        {
            var progress = run.Live;
            var heartbeat = await gateway.PendingHeartbeatAsync<TrainingHeartbeat>(id, "train_model", ct);

            var percent = progress?.ProgressPercent;
            if (progress?.Stage == "training" && heartbeat is not null)
            {
                // The train step spans 20–80 % of the run; its heartbeat says how far into it we are.
                percent = 20 + (60 * Math.Clamp(heartbeat.Fraction, 0, 1));
            }

            return new TrainingRunView(
                id,
                run.Status,
                progress?.Stage,
                percent,
                heartbeat,
                progress,
                description.StartTime,
                null,
                null,
                null,
                null,
                progress?.Trained is { } trained ? await ReportAsync(models, id, trained.Model, trained.Version, ct) : null);
        }

        var completed = description.Status == WorkflowExecutionStatus.Completed;
        return new TrainingRunView(
            id,
            run.Status,
            run.Status,
            completed ? 100 : null,
            null,
            null,
            description.StartTime,
            description.CloseTime,
            run.Stored?.Output,
            run.Stored?.Error,
            Problems(run.Stored?.Output),
            run.Stored is { ModelName: { } model, ModelVersion: { } version } ? await ReportAsync(models, id, model, version, ct) : null);
    }

    /// <summary>A failed run's problems, as it stored them (<see cref="TrainingProblems"/>); null for a run that did not fail.</summary>
    private static List<TrainingProblem>? Problems(JsonElement? output)
    {
        if (output is { ValueKind: JsonValueKind.Object } stored
            && stored.TryGetProperty("problems", out var problems)
            && problems.ValueKind == JsonValueKind.Array)
        {
            return problems.Deserialize<List<TrainingProblem>>(Common.WorkflowJson.Options);
        }

        return null;
    }

    /// <summary>
    /// The report of the version <paramref name="runId"/> registered: read from the registry, so it outlives the run's
    /// history. Null when there is none, or the version was deleted or came from another run (a duplicate version).
    /// </summary>
    private static async Task<TrainingReport?> ReportAsync(
        IModelModule? models,
        string runId,
        string model,
        string version,
        CancellationToken ct)
    {
        if (models is null)
        {
            return null;
        }

        try
        {
            var info = await models.GetVersionAsync(model, version, ct);
            return info.Lineage.RunId == runId ? info.Report : null;
        }
        catch (ModuleException ex) when (ex.Kind is ErrorKind.NotFound or ErrorKind.Invalid)
        {
            return null;
        }
    }
}

internal sealed class TrainingRunBodyValidator : AbstractValidator<TrainingRunBody>
{
    public TrainingRunBodyValidator()
    {
        RuleFor(b => b.Model).NotEmpty().WithMessage("A model name is required.");
        RuleFor(b => b.Version).NotEmpty().WithMessage("A version (e.g. 1.1.0) is required.");
        RuleFor(b => b.Task).NotNull()
            .WithMessage("task is required: binaryClassification, multiclassClassification or regression.");
        RuleFor(b => b.DatasetId).NotNull().WithMessage("A dataset id is required.")
            .GreaterThanOrEqualTo(1).WithMessage("A dataset id is required.");
        RuleFor(b => b.TestFraction).Must(f => f is > 0 and < 1).WithMessage("testFraction must be between 0 and 1 (exclusive).");
        RuleFor(b => b.ApprovalTimeoutSeconds).Must(t => t is null or (> 0 and <= 86400 * 30))
            .WithMessage("approvalTimeoutSeconds must be between 0 and 30 days.");
        RuleFor(b => b.SelectionMetric).Null().When(b => !AutoTrainingSteps.IsAuto(b.Trainer))
            .WithMessage("selectionMetric applies to trainer \"auto\" only.");
        RuleFor(b => b.TimeBudgetSeconds)
            .Must(t => t is null or (> 0 and <= AutoTrainingSteps.MaxTimeBudgetSeconds))
            .WithMessage($"timeBudgetSeconds must be between 0 and {AutoTrainingSteps.MaxTimeBudgetSeconds}.");
        RuleFor(b => b.TimeBudgetSeconds).Null().When(b => !AutoTrainingSteps.IsAuto(b.Trainer))
            .WithMessage("timeBudgetSeconds applies to trainer \"auto\" only.");
        RuleFor(b => b.Activate).Must((b, activate) => !(activate && b.RequireApproval))
            .WithMessage("With requireApproval the approval decides activation; leave activate false.");
        RuleFor(b => b.Schedule!).SetValidator(new TrainingScheduleSpecValidator()).When(b => b.Schedule is not null);
        RuleFor(b => b.Trainer).Must(t => !AutoTrainingSteps.IsAuto(t)).When(b => b.Ensemble is not null)
            .WithMessage("An ensemble run fits no model to search trainers for; name a meta-learner for stacking, or none.");
        RuleFor(b => b.Ensemble!.Members).NotNull().Must(m => m is { Count: >= 2 and <= EnsembleSpec.MaxMembers })
            .When(b => b.Ensemble is not null)
            .WithMessage($"An ensemble has 2 to {EnsembleSpec.MaxMembers} members, each by model and version or alias.");
    }
}
