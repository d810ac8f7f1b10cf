using System.ComponentModel;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FluentValidation;
using Formanova.Host.Workflows.Batch;
using Formanova.Host.Workflows.Processing;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Http.HttpResults;
using Temporalio.Client;

namespace Formanova.Host.Workflows.Api;

internal sealed record BatchBody(
    string? Model = null,
    long? DatasetId = null,
    string? Version = null,
    List<TransformStep>? Transforms = null,
    int? ChunkSize = null,
    int? Parallelism = null,
    bool Strict = false);

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
    private const string ExampleId = "batch-c4ca4238a0b923820dcc509a6f75849b";

    private static readonly JobAccepted BatchAccepted = new(ExampleId, "accepted", $"/api/v1/batch-jobs/{ExampleId}");

    public static IEndpointRouteBuilder MapBatchEndpoints(this IEndpointRouteBuilder api)
    {
        var batch = api.MapGroup("/batch-jobs").WithTags("Batch");
        batch.MapPost("/", StartAsync).WithName("StartBatchJob").RequireRateLimiting(RateLimitPolicies.Expensive).WithIdempotencyKey()
            .WithSummary("Start a batch prediction job")
            .WithDescription(
                "Starts a **BatchInferenceWorkflow** that predicts every row of dataset `datasetId` (after the job's "
                + "`transforms`, frozen once at planning) with `model` (its active version, or `version`), in chunks of "
                + "`chunkSize` rows (1–100000) with `parallelism` chunks in flight (1–64), defaults from "
                + "`Workflows:Batch`. The predictions are stored as they are made; read them with `GET "
                + "/batch-jobs/{id}/results`.\n\n"
                + "Before the run starts the dataset's columns are matched to the version's input contract: an input the "
                + "model reads and the dataset lacks is a 400 on `columns.{name}`, and with `strict: true` a column the "
                + "model does not read is a 400 on `columns[j]`; an unknown dataset is a 404. Answers **202** with "
                + "`Location: /api/v1/batch-jobs/{id}` to poll. **Idempotency:** with an `Idempotency-Key` a repeat "
                + "returns the same job; the same key with another body is a 409. Rate-limited as an expensive operation.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithRequestExample(new BatchBody("churn", 7, ChunkSize: 50_000, Parallelism: 2))
            .WithResponseExample(BatchAccepted, StatusCodes.Status202Accepted);
        batch.MapGet("/{id}", GetAsync).WithName("GetBatchJob")
            .WithSummary("Get a batch job")
            .WithDescription(
                "The job's status (`running`, `paused`, `completed`, `failed`, `cancelled`, `terminated`, `timedOut`). "
                + "While it runs, `progress`: stage, rows predicted of the source's total (a filter predicts fewer), "
                + "chunks done of total, percent, paused, the continue-as-new run number and the version. Once closed, "
                + "`result` (rows, chunks, timings, ignored columns, errors) or `error`. `results` is the export's path. "
                + "404 when no batch job has this id.")
            .WithResponseExample(new BatchView(
                ExampleId,
                "running",
                new BatchProgress("running", 7043, 5000, 4, 2, 50, false, 1, "1.2.0"),
                new DateTime(2026, 11, 27, 2, 0, 0, DateTimeKind.Utc),
                null,
                null,
                null,
                $"/api/v1/batch-jobs/{ExampleId}/results"));
        batch.MapGet("/{id}/results", ExportAsync).WithName("ExportBatchResults")
            .WithSummary("Export a batch job's predictions")
            .WithDescription(
                "Streams the predictions stored so far (the whole job once it has completed), in row order: CSV with "
                + "the header `rowId,label,value,score,predictionId` (`format=csv`, the default), or Parquet (`format=parquet`, "
                + "without `predictionId`). `predictionId` is `{jobId}:{rowId}`, what `POST /feedback` takes for the row. "
                + "`rowId` is the source dataset's row id, `label` the predicted class (quoted; empty for regression), "
                + "`value` the regression value (empty for classification) and `score` the model's score (binary: its raw "
                + "score, positive for `true`; multiclass: the predicted class's score). Sent as an attachment named "
                + "after the job. 404 when no batch job has this id.")
            .WithMetadata(new Microsoft.AspNetCore.Mvc.ProducesResponseTypeAttribute(
                typeof(string), StatusCodes.Status200OK, "text/csv", "application/vnd.apache.parquet")
            {
                Description = "The predictions: CSV (UTF-8, no BOM) or Parquet.",
            })
            .WithResponseExample(
                "rowId,label,value,score,predictionId\n1,\"true\",,1.84,\"" + ExampleId + ":1\"\n2,\"false\",,-2.67,\"" + ExampleId
                + ":2\"\n", mediaType: "text/csv");
        batch.MapPost("/{id}/pause", (string id, WorkflowGateway gateway, CancellationToken ct) =>
                gateway.SignalRunAsync<BatchInferenceWorkflow>(id, wf => wf.PauseAsync(), ct))
            .WithName("PauseBatchJob")
            .WithSummary("Pause a batch job")
            .WithDescription("Sends the `pause` signal: no new chunk starts, the chunks in flight finish, and the job shows "
                + "`paused` until resumed. Answers 204; a job that has closed is a 409.")
            .ProducesProblem(StatusCodes.Status409Conflict);
        batch.MapPost("/{id}/resume", (string id, WorkflowGateway gateway, CancellationToken ct) =>
                gateway.SignalRunAsync<BatchInferenceWorkflow>(id, wf => wf.ResumeAsync(), ct))
            .WithName("ResumeBatchJob")
            .WithSummary("Resume a batch job")
            .WithDescription("Sends the `resume` signal: a paused job starts chunks again. Answers 204; a job that has closed "
                + "is a 409.")
            .ProducesProblem(StatusCodes.Status409Conflict);
        batch.MapPost("/{id}/cancel", async (string id, WorkflowGateway gateway, CancellationToken ct) =>
        {
            await gateway.CancelAsync<BatchInferenceWorkflow>(id, ct);
            return TypedResults.Accepted($"/api/v1/batch-jobs/{id}", new JobAccepted(id, "cancelling", $"/api/v1/batch-jobs/{id}"));
        }).WithName("CancelBatchJob")
            .WithSummary("Cancel a batch job")
            .WithDescription("Requests Temporal's cancellation of the running job; it closes `cancelled`. The predictions "
                + "stored so far stay readable through the export. Answers 202 with `Location` to poll; a job that has "
                + "closed is a 409.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithResponseExample(BatchAccepted with { Status = "cancelling" }, StatusCodes.Status202Accepted);
        return api;
    }

    private static async Task<Accepted<JobAccepted>> StartAsync(
        BatchBody body,
        HttpContext http,
        WorkflowGateway gateway,
        IDataModule data,
        IModelModule models,
        CancellationToken ct)
    {
        // 404 for an unknown dataset, transforms checked (400) and the columns matched to the model before a workflow starts.
        var stream = await data.OpenRowStreamAsync(body.DatasetId!.Value, body.Transforms, ct);
        await CheckColumnsAsync(body, [.. stream.Columns.Select(c => c.Name)], models, ct);
        var id = await gateway.StartIdAsync("batch", http, WorkflowGateway.HashOf(body), ct);

        var options = gateway.Options.Batch;
        var input = new BatchInput(body.Model!, body.Version, body.DatasetId.Value, body.Transforms, body.ChunkSize ?? options.ChunkSize,
            body.Parallelism ?? options.Parallelism, options.ChunksPerRun, gateway.Policy(), Strict: body.Strict);
        await gateway.StartAsync<BatchInferenceWorkflow, BatchOutcome>(id, wf => wf.RunAsync(input), ct);
        return TypedResults.Accepted($"/api/v1/batch-jobs/{id}", new JobAccepted(id, "accepted", $"/api/v1/batch-jobs/{id}"));
    }

    /// <summary>
    /// The dataset's columns (after the job's transforms) matched to the version's input contract by the positional
    /// path's rules: a raw input the model reads and the dataset lacks is a 400 on <c>columns.{name}</c>, and in strict
    /// mode a column the model does not read is a 400 on <c>columns[j]</c>. A version that does not resolve is left to the
    /// run's plan, which names the field at fault.
    /// </summary>
    private static async Task CheckColumnsAsync(BatchBody body, List<string> columns, IModelModule models, CancellationToken ct)
    {
        ModelVersionInfo info;
        try
        {
            info = await models.ResolveVersionAsync(body.Model!, body.Version, null, ct);
        }
        catch (ModuleException ex) when (ex.Kind is ErrorKind.NotFound or ErrorKind.Invalid)
        {
            return;
        }

        var inputs = ModelInputs.Of(info).Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var errors = new Dictionary<string, string[]>();
        foreach (var name in inputs.Where(name => !columns.Contains(name, StringComparer.Ordinal)))
        {
            errors[$"columns.{name}"] = [$"The dataset has no column '{name}', which {info.Name} {info.Version} reads."];
        }

        for (var j = 0; body.Strict && j < columns.Count; j++)
        {
            if (!inputs.Contains(columns[j]))
            {
                errors[$"columns[{j}]"] = [$"Column '{columns[j]}' is not an input of {info.Name} {info.Version} (strict mode)."];
            }
        }

        if (errors.Count > 0)
        {
            throw new ModuleException(ErrorKind.Invalid, $"The dataset's columns do not match {info.Name} {info.Version}.", errors);
        }
    }

    private static async Task<Ok<BatchView>> GetAsync(string id, WorkflowGateway gateway, IDataModule data, CancellationToken ct) =>
        TypedResults.Ok(await ViewAsync(gateway, data, id, null, ct));

    /// <summary>The job as GET /batch-jobs/{id} shows it; GET /jobs/{id} passes the description it already has.</summary>
    public static async Task<BatchView> ViewAsync(
        WorkflowGateway gateway,
        IDataModule data,
        string id,
        WorkflowExecutionDescription? described,
        CancellationToken ct)
    {
        var run = await gateway.ReadRunAsync<BatchInferenceWorkflow, BatchProgress>(data, id, wf => wf.GetProgress(), ct, described);
        var results = $"/api/v1/batch-jobs/{id}/results";
        var started = run.Description.StartTime;
        return run.Running
            ? new BatchView(id, run.Live?.Paused == true ? "paused" : run.Status, run.Live, started, null, null, null, results)
            : new BatchView(id, run.Status, null, started, run.Description.CloseTime, run.Stored?.Output, run.Stored?.Error, results);
    }

    /// <summary>The predictions stored so far as CSV (rowId,label,value,score,predictionId) or Parquet, in row order.</summary>
    private static async Task ExportAsync(
        string id,
        [Description("`csv` (the default) or `parquet`, in any case.")] string? format,
        HttpContext http,
        WorkflowGateway gateway,
        IDataModule data,
        CancellationToken ct)
    {
        var parquet = format?.ToLowerInvariant() switch
        {
            null or "csv" => false,
            "parquet" => true,
            _ => throw ModuleException.Invalid("format", "format must be csv or parquet."),
        };
        await gateway.DescribeAsync<BatchInferenceWorkflow>(id, ct);
        if (parquet)
        {
            http.Response.ContentType = "application/vnd.apache.parquet";
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"{id}.parquet\"";
            await data.ExportPredictionsAsParquetAsync(id, http.Response.Body, ct);
            return;
        }

        http.Response.ContentType = "text/csv; charset=utf-8";
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"{id}.csv\"";
        await using var writer = new StreamWriter(http.Response.Body, new UTF8Encoding(false));
        await writer.WriteAsync("rowId,label,value,score,predictionId\n");
        // A quoted field with the row id appended before its closing quote.
        var opened = Csv($"{id}:")[..^1];
        await foreach (var row in data.ReadPredictionsAsync(id, ct))
        {
            // The row's predictionId (docs/feedback.md) is the job and the row: nothing is stored per row to make it.
            await writer.WriteAsync(string.Create(
                CultureInfo.InvariantCulture,
                $"{row.RowId},{Csv(row.Label)},{Number(row.Value)},{Number(row.Score)},{opened}{row.RowId}\"\n"));
        }
    }

    private static string Csv(string? value) => value is null ? "" : $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    private static string Number(double? value) => value?.ToString("R", CultureInfo.InvariantCulture) ?? "";
}

internal sealed class BatchBodyValidator : AbstractValidator<BatchBody>
{
    public BatchBodyValidator()
    {
        RuleFor(b => b.Model).NotEmpty().WithMessage("A model name is required.");
        RuleFor(b => b.DatasetId).NotNull().WithMessage("A dataset id is required.")
            .GreaterThanOrEqualTo(1).WithMessage("A dataset id is required.");
        RuleFor(b => b.ChunkSize).Must(size => size is null or (>= 1 and <= 100_000))
            .WithMessage("chunkSize must be between 1 and 100000.");
        RuleFor(b => b.Parallelism).Must(parallelism => parallelism is null or (>= 1 and <= 64))
            .WithMessage("parallelism must be between 1 and 64.");
    }
}
