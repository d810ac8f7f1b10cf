using System.Linq.Expressions;
using System.Text.Json;
using FluentValidation;
using Formanova.Host.Workflows.Training;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Http.HttpResults;
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
    double? TimeBudgetSeconds = null);

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

    public static IEndpointRouteBuilder MapTrainingEndpoints(this IEndpointRouteBuilder api)
    {
        var runs = api.MapGroup("/training-runs").WithTags("Training");
        runs.MapPost("/", StartAsync).WithName("StartTrainingRun").RequireRateLimiting(RateLimitPolicies.Expensive).WithIdempotencyKey()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        runs.MapGet("/{id}", GetAsync).WithName("GetTrainingRun");
        runs.MapPost("/{id}/approve", (string id, ApprovalDecision? decision, WorkflowGateway gateway, CancellationToken ct) =>
                DecideAsync(gateway, id, wf => wf.ApproveAsync(decision ?? new ApprovalDecision()), ct))
            .WithName("ApproveTrainingRun")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithMetadata(AdminScope);
        runs.MapPost("/{id}/reject", (string id, ApprovalDecision? decision, WorkflowGateway gateway, CancellationToken ct) =>
                DecideAsync(gateway, id, wf => wf.RejectAsync(decision ?? new ApprovalDecision()), ct))
            .WithName("RejectTrainingRun")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithMetadata(AdminScope);
        runs.MapPost("/{id}/cancel", async (string id, WorkflowGateway gateway, CancellationToken ct) =>
        {
            await gateway.CancelAsync<ModelTrainingWorkflow>(id, ct);
            return TypedResults.Accepted($"/api/v1/training-runs/{id}", new JobAccepted(id, "cancelling", $"/api/v1/training-runs/{id}"));
        }).WithName("CancelTrainingRun").ProducesProblem(StatusCodes.Status409Conflict);
        return api;
    }

    private static async Task<Accepted<JobAccepted>> StartAsync(
        TrainingRunBody body,
        HttpContext http,
        WorkflowGateway gateway,
        IDataModule data,
        IModelModule models,
        CancellationToken ct)
    {
        var auto = AutoTrainingSteps.IsAuto(body.Trainer);
        if (auto)
        {
            // An unknown selection metric is a 400 naming selectionMetric, before any run starts.
            models.PlanAutoTraining(body.Task!.Value, body.SelectionMetric);
        }

        // What can be known now is answered now (TrainingRunPreCheck): the activities check again for runs started
        // elsewhere. A repeated request with the same Idempotency-Key is no conflict with the version its run made.
        await new TrainingRunPreCheck(data, models).CheckAsync(body, IdempotencyKey.Read(http)?.Scoped("training"), ct);
        var id = await gateway.StartIdAsync("training", http, WorkflowGateway.HashOf(body), ct);

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
            options.AutoParallelism);
        await gateway.StartAsync<ModelTrainingWorkflow, TrainingRunResult>(id, wf => wf.RunAsync(input), ct);
        return TypedResults.Accepted($"/api/v1/training-runs/{id}", new JobAccepted(id, "accepted", $"/api/v1/training-runs/{id}"));
    }

    private static async Task<NoContent> DecideAsync(
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
        RuleFor(b => b.DatasetId).Must(id => id >= 1).WithMessage("A dataset id is required.");
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
    }
}
