using System.Text.Json;
using Formanova.Host.Workflows.Training;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Http.HttpResults;
using Temporalio.Api.Enums.V1;

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
    double? ApprovalTimeoutSeconds = null);

/// <summary>A training run: live progress (the train step's last heartbeat included) while running, the stored outcome after.</summary>
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
    string? Error);

internal static class TrainingEndpoints
{
    private static readonly string Type = nameof(ModelTrainingWorkflow);
    private static readonly RequiredScopeMetadata AdminScope = new(ApiScopes.Admin);

    public static IEndpointRouteBuilder MapTrainingEndpoints(this IEndpointRouteBuilder api)
    {
        var runs = api.MapGroup("/training-runs").WithTags("Training");
        runs.MapPost("/", StartAsync).WithName("StartTrainingRun").RequireRateLimiting(RateLimitPolicies.Expensive).WithIdempotencyKey();
        runs.MapGet("/{id}", GetAsync).WithName("GetTrainingRun");
        runs.MapPost("/{id}/approve", (string id, ApprovalDecision? decision, WorkflowGateway gateway, CancellationToken ct) =>
            SignalAsync(gateway, id, "approve", decision, ct)).WithName("ApproveTrainingRun").WithMetadata(AdminScope);
        runs.MapPost("/{id}/reject", (string id, ApprovalDecision? decision, WorkflowGateway gateway, CancellationToken ct) =>
            SignalAsync(gateway, id, "reject", decision, ct)).WithName("RejectTrainingRun").WithMetadata(AdminScope);
        runs.MapPost("/{id}/cancel", async (string id, WorkflowGateway gateway, CancellationToken ct) =>
        {
            await gateway.CancelAsync(id, Type, ct);
            return TypedResults.Accepted($"/api/v1/training-runs/{id}", new JobAccepted(id, "cancelling", $"/api/v1/training-runs/{id}"));
        }).WithName("CancelTrainingRun");
        return api;
    }

    private static async Task<Accepted<JobAccepted>> StartAsync(
        TrainingRunBody body,
        HttpContext http,
        WorkflowGateway gateway,
        IDataModule data,
        CancellationToken ct)
    {
        Validate(body);

        // What can be known now is answered now, as for a batch job: 404 for an unknown dataset, 400 for bad
        // transforms, 422 for nothing to learn. prepare_training_data checks again for runs started elsewhere.
        var stream = await data.OpenRowStreamAsync(body.DatasetId!.Value, body.Transforms, ct);
        if (!stream.Columns.Any(c => c.Role == ColumnRole.Label))
        {
            throw new ModuleException(ErrorKind.Unprocessable, $"Dataset {body.DatasetId} has no label column to train on.",
                new Dictionary<string, string[]> { ["datasetId"] = ["The dataset (after transforms) needs a column with role 'label'."] });
        }

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
            gateway.Policy());
        await gateway.StartAsync<ModelTrainingWorkflow, TrainingRunResult>(id, wf => wf.RunAsync(input), ct);
        return TypedResults.Accepted($"/api/v1/training-runs/{id}", new JobAccepted(id, "accepted", $"/api/v1/training-runs/{id}"));
    }

    private static void Validate(TrainingRunBody body)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body.Model))
        {
            errors["model"] = ["A model name is required."];
        }

        if (string.IsNullOrWhiteSpace(body.Version))
        {
            errors["version"] = ["A version (e.g. 1.1.0) is required."];
        }

        if (body.Task is null)
        {
            errors["task"] = ["task is required: binaryClassification, multiclassClassification or regression."];
        }

        if (body.DatasetId is null or < 1)
        {
            errors["datasetId"] = ["A dataset id is required."];
        }

        if (body.TestFraction is <= 0 or >= 1 || double.IsNaN(body.TestFraction))
        {
            errors["testFraction"] = ["testFraction must be between 0 and 1 (exclusive)."];
        }

        if (body.ApprovalTimeoutSeconds is <= 0 or > 86400 * 30)
        {
            errors["approvalTimeoutSeconds"] = ["approvalTimeoutSeconds must be between 0 and 30 days."];
        }

        if (body.Activate && body.RequireApproval)
        {
            errors["activate"] = ["With requireApproval the approval decides activation; leave activate false."];
        }

        foreach (var (name, value) in (body.MinMetrics ?? []).Concat(body.MaxMetrics ?? []))
        {
            if (!double.IsFinite(value))
            {
                errors[$"metrics.{name}"] = ["Thresholds must be finite numbers."];
            }
        }

        if (errors.Count > 0)
        {
            throw new ModuleException(ErrorKind.Invalid, "The training request is invalid.", errors);
        }
    }

    private static async Task<NoContent> SignalAsync(
        WorkflowGateway gateway,
        string id,
        string signal,
        ApprovalDecision? decision,
        CancellationToken ct)
    {
        var progress = await gateway.TryQueryAsync<TrainingProgressView>(id, "get_progress", ct);
        if (progress is { Approval: not null })
        {
            throw new ModuleException(ErrorKind.Conflict, $"'{id}' was already {progress.Approval}.");
        }

        await gateway.SignalAsync(id, Type, signal, [decision ?? new ApprovalDecision()], ct);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<TrainingRunView>> GetAsync(string id, WorkflowGateway gateway, IDataModule data, CancellationToken ct)
    {
        var description = await gateway.DescribeAsync(id, Type, ct);
        var status = WorkflowGateway.StatusName(description.Status);
        if (description.Status == WorkflowExecutionStatus.Running)
        {
            var progress = await gateway.TryQueryAsync<TrainingProgressView>(id, "get_progress", ct);
            var heartbeat = await gateway.PendingHeartbeatAsync<TrainingHeartbeat>(id, "train_model", ct);

            var percent = progress?.ProgressPercent;
            if (progress?.Stage == "training" && heartbeat is not null)
            {
                // The train step spans 20–80 % of the run; its heartbeat says how far into it we are.
                percent = 20 + (60 * Math.Clamp(heartbeat.Fraction, 0, 1));
            }

            return TypedResults.Ok(
                new TrainingRunView(id, status, progress?.Stage, percent, heartbeat, progress, description.StartTime, null, null, null));
        }

        var stored = (await data.QueryResultsAsync(new ResultQuery(JobId: id, Limit: 10), ct)).Items
            .FirstOrDefault(r => r.Step == "result");
        return TypedResults
            .Ok(new TrainingRunView(id, status, status, description.Status == WorkflowExecutionStatus.Completed ? 100 : null, null, null,
                description.StartTime, description.CloseTime, stored?.Output, stored?.Error));
    }
}
