using Formanova.Host.Temporal;
using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Microsoft.Extensions.Options;
using Temporalio.Activities;

namespace Formanova.Host.Workflows.Batch;

/// <summary>Planning and chunk processing for batch inference. Rows move only inside one activity.</summary>
internal sealed class BatchActivities(IDataModule data, IModelModule models, IOptions<WorkflowsOptions> options, TimeProvider time)
{
    private static ActivityExecutionContext Context => ActivityExecutionContext.Current;

    /// <summary>
    /// Resolves the version, checks and freezes the transforms (a fill's mean or mode computed once, here) and records
    /// the first row cursor of every chunk of the source dataset, so chunks can run in parallel. Each chunk applies
    /// the frozen transforms as it reads its rows: no derived copy of the data is made, and the predictions carry the
    /// source rows' ids.
    /// </summary>
    [Activity("plan_batch")]
    public Task<BatchPlan> PlanAsync(BatchInput input) => ActivityErrors.GuardAsync(async () =>
    {
        var ct = Context.CancellationToken;
        var model = await models.GetModelAsync(input.Model, ct);
        var version = input.Version ?? model.ActiveVersion
            ?? throw ActivityErrors.Invalid(
                $"Model '{input.Model}' has no active version.",
                new() { ["version"] = ["No version given and none is active."] });
        if (model.Versions.All(v => v.Version != version))
        {
            throw ActivityErrors.Invalid(
                $"Model '{input.Model}' has no version '{version}'.",
                new() { ["version"] = [$"Unknown version '{version}'."] });
        }

        List<TransformStep>? transforms = input.Transforms is { Count: > 0 }
            ? [.. await data.FreezeTransformsAsync(input.DatasetId, input.Transforms, ct)]
            : null;
        var plan = await data.PlanRowChunksAsync(input.DatasetId, input.ChunkSize, ct);
        return new BatchPlan(version, input.DatasetId, [.. plan.Cursors], plan.TotalRows, transforms);
    });

    /// <summary>
    /// Predicts one chunk (one keyset read of its row range, predicted positionally with
    /// <see cref="IModelModule.PredictRowsAsync"/>), stores its predictions in the Data module (one packed record per chunk)
    /// and records the job's result step <c>chunk-NNNNNN</c> as succeeded with the row count. A chunk recorded as
    /// succeeded before (a retry after a crash) is not predicted again.
    /// </summary>
    [Activity("process_chunk")]
    public Task<ChunkResult> ProcessChunkAsync(ChunkInput input) => ActivityErrors.GuardAsync(async () =>
    {
        var ct = Context.CancellationToken;
        var step = $"chunk-{input.Index:D6}";
        var started = time.GetUtcNow();
        var claim = await data.RecordResultAsync(
            new RecordResultRequest(input.JobId, step, ResultStatus.Running, started, null, input.JobId, input.Model, input.Version),
            ct);
        if (claim.Status == ResultStatus.Succeeded)
        {
            return new ChunkResult(input.Index, claim.Output?.GetProperty("count").GetInt64() ?? 0, Replayed: true);
        }

        var chunk = await data.ReadRowChunkAsync(input.DatasetId, input.StartCursor, input.ChunkSize, input.Transforms, ct);
        var read = time.GetUtcNow();

        // Every column goes in by name and the rows as read, with no per-row dictionary: the model's input contract
        // picks the raw columns it reads (runs its training steps on them) and ignores the label, ids and the rest.
        var columns = chunk.Columns.Select(c => c.Name).ToArray();
        var batch = options.Value.Batch;
        var rows = new StoredPrediction[chunk.Rows.Count];
        var ignored = new List<string>();
        for (var offset = 0; offset < rows.Length; offset += batch.PredictRows)
        {
            var count = Math.Min(batch.PredictRows, rows.Length - offset);
            var slice = chunk.Rows is object?[][] array
                ? new ArraySegment<object?[]>(array, offset, count)
                : (IReadOnlyList<object?[]>)[.. chunk.Rows.Skip(offset).Take(count)];
            var predicted = await models.PredictRowsAsync(
                new PredictRowsRequest(
                    input.Model,
                    columns,
                    slice,
                    input.Version,
                    MaxParallelism: batch.PredictThreads > 0 ? batch.PredictThreads : null,
                    Strict: input.Strict), ct);
            ignored.AddRange((predicted.IgnoredColumns ?? []).Except(ignored, StringComparer.Ordinal).ToList());
            for (var i = 0; i < count; i++)
            {
                rows[offset + i] = new StoredPrediction(
                    chunk.RowIds[offset + i],
                    predicted.Labels[i],
                    predicted.Values[i],
                    predicted.Scores[i]);
            }
        }

        var predictedAt = time.GetUtcNow();

        // The rows first (a retry replaces them), then the step as succeeded: a crash in between redoes only this chunk.
        await data.StorePredictionsAsync(input.JobId, input.Index, rows, ct);
        var summary = WorkflowJson.Element(new
        {
            firstRowId = chunk.RowIds.Count > 0 ? chunk.RowIds[0] : (long?)null,
            lastRowId = chunk.RowIds.Count > 0 ? chunk.RowIds[^1] : (long?)null,
            count = chunk.RowIds.Count
        });
        await data.RecordResultAsync(new RecordResultRequest(
            input.JobId,
            step,
            ResultStatus.Succeeded,
            started,
            time.GetUtcNow(),
            input.JobId,
            input.Model,
            input.Version,
            summary,
            summary), ct);
        var written = time.GetUtcNow();
        return new ChunkResult(input.Index, chunk.RowIds.Count, Replayed: false,
            new BatchTimings(
                0,
                (read - started).TotalMilliseconds,
                (predictedAt - read).TotalMilliseconds,
                (written - predictedAt).TotalMilliseconds),
            ignored);
    });
}
