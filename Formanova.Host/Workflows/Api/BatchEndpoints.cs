using System.Globalization;
using System.Text;
using System.Text.Json;
using Formanova.Host.Workflows.Batch;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Http.HttpResults;
using Temporalio.Api.Enums.V1;

namespace Formanova.Host.Workflows.Api;

internal sealed record BatchBody(
    string? Model = null,
    long? DatasetId = null,
    string? Version = null,
    List<TransformStep>? Transforms = null,
    int? ChunkSize = null,
    int? Parallelism = null);

internal sealed record BatchView(
    string Id,
    string Status,
    BatchProgress? Progress,
    DateTime? StartedAt,
    DateTime? ClosedAt,
    JsonElement? Result,
    string? Error,
    string Results);

internal static class BatchEndpoints
{
    private static readonly string Type = nameof(BatchInferenceWorkflow);

    public static IEndpointRouteBuilder MapBatchEndpoints(this IEndpointRouteBuilder api)
    {
        var batch = api.MapGroup("/batch-jobs").WithTags("Batch");
        batch.MapPost("/", StartAsync).WithName("StartBatchJob").RequireRateLimiting(RateLimitPolicies.Expensive).WithIdempotencyKey();
        batch.MapGet("/{id}", GetAsync).WithName("GetBatchJob");
        batch.MapGet("/{id}/results", ExportAsync).WithName("ExportBatchResults");
        batch.MapPost("/{id}/pause", (string id, WorkflowGateway gateway, CancellationToken ct) => SignalAsync(gateway, id, "pause", ct))
            .WithName("PauseBatchJob");
        batch.MapPost("/{id}/resume", (string id, WorkflowGateway gateway, CancellationToken ct) => SignalAsync(gateway, id, "resume", ct))
            .WithName("ResumeBatchJob");
        batch.MapPost("/{id}/cancel", async (string id, WorkflowGateway gateway, CancellationToken ct) =>
        {
            await gateway.CancelAsync(id, Type, ct);
            return TypedResults.Accepted($"/api/v1/batch-jobs/{id}", new JobAccepted(id, "cancelling", $"/api/v1/batch-jobs/{id}"));
        }).WithName("CancelBatchJob");
        return api;
    }

    private static async Task<Accepted<JobAccepted>> StartAsync(
        BatchBody body,
        HttpContext http,
        WorkflowGateway gateway,
        IDataModule data,
        CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body.Model))
        {
            errors["model"] = ["A model name is required."];
        }

        if (body.DatasetId is null or < 1)
        {
            errors["datasetId"] = ["A dataset id is required."];
        }

        if (body.ChunkSize is < 1 or > 100_000)
        {
            errors["chunkSize"] = ["chunkSize must be between 1 and 100000."];
        }

        if (body.Parallelism is < 1 or > 64)
        {
            errors["parallelism"] = ["parallelism must be between 1 and 64."];
        }

        if (errors.Count > 0)
        {
            throw new ModuleException(ErrorKind.Invalid, "The batch request is invalid.", errors);
        }

        // 404 for an unknown dataset, and transforms checked (400) before a workflow starts.
        await data.OpenRowStreamAsync(body.DatasetId!.Value, body.Transforms, ct);
        var id = await gateway.StartIdAsync("batch", http, WorkflowGateway.HashOf(body), ct);

        var options = gateway.Options.Batch;
        var input = new BatchInput(body.Model!, body.Version, body.DatasetId.Value, body.Transforms, body.ChunkSize ?? options.ChunkSize,
            body.Parallelism ?? options.Parallelism, options.ChunksPerRun, gateway.Policy());
        await gateway.StartAsync<BatchInferenceWorkflow, BatchOutcome>(id, wf => wf.RunAsync(input), ct);
        return TypedResults.Accepted($"/api/v1/batch-jobs/{id}", new JobAccepted(id, "accepted", $"/api/v1/batch-jobs/{id}"));
    }

    private static async Task<NoContent> SignalAsync(WorkflowGateway gateway, string id, string signal, CancellationToken ct)
    {
        await gateway.SignalAsync(id, Type, signal, [], ct);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<BatchView>> GetAsync(string id, WorkflowGateway gateway, IDataModule data, CancellationToken ct)
    {
        var description = await gateway.DescribeAsync(id, Type, ct);
        var status = WorkflowGateway.StatusName(description.Status);
        var results = $"/api/v1/batch-jobs/{id}/results";
        if (description.Status == WorkflowExecutionStatus.Running)
        {
            var progress = await gateway.TryQueryAsync<BatchProgress>(id, "get_progress", ct);
            return TypedResults.Ok(
                new BatchView(id, progress?.Paused == true ? "paused" : status, progress, description.StartTime, null, null, null, results));
        }

        var stored = (await data.QueryResultsAsync(new ResultQuery(JobId: id, Limit: 10), ct)).Items
            .FirstOrDefault(r => r.Step == "result");
        return TypedResults.Ok(
            new BatchView(id, status, null, description.StartTime, description.CloseTime, stored?.Output, stored?.Error, results));
    }

    /// <summary>The predictions stored so far as CSV (rowId,label,value,score), in row order.</summary>
    private static async Task ExportAsync(string id, HttpContext http, WorkflowGateway gateway, IDataModule data, CancellationToken ct)
    {
        await gateway.DescribeAsync(id, Type, ct);
        http.Response.ContentType = "text/csv; charset=utf-8";
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"{id}.csv\"";
        await using var writer = new StreamWriter(http.Response.Body, new UTF8Encoding(false));
        await writer.WriteAsync("rowId,label,value,score\n");
        await foreach (var row in data.ReadPredictionsAsync(id, ct))
        {
            await writer.WriteAsync(
                string.Create(CultureInfo.InvariantCulture, $"{row.RowId},{Csv(row.Label)},{Number(row.Value)},{Number(row.Score)}\n"));
        }
    }

    private static string Csv(string? value) => value is null ? "" : $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    private static string Number(double? value) => value?.ToString("R", CultureInfo.InvariantCulture) ?? "";
}
