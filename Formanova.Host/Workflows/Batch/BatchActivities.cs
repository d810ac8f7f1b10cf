using System.Text.Json;
using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Errors;
using Temporalio.Activities;

namespace Formanova.Host.Workflows.Batch;

/// <summary>Planning and chunk processing for batch inference. Rows move only inside one activity.</summary>
internal sealed class BatchActivities(IDataModule data, IModelModule models, TimeProvider time)
{
    /// <summary>Rows the Data module returns per read; a chunk reads several pages.</summary>
    private const int PageSize = 1000;

    private static ActivityExecutionContext Context => ActivityExecutionContext.Current;

    /// <summary>
    /// Resolves the version, materialises the transforms into a derived dataset (once per job, found again on a
    /// retry) and records the first row cursor of every chunk, so chunks can run in parallel.
    /// </summary>
    [Activity("plan_batch")]
    public Task<BatchPlan> PlanAsync(BatchInput input) => ActivityErrors.GuardAsync(async () =>
    {
        var ct = Context.CancellationToken;
        var model = await models.GetModelAsync(input.Model, ct);
        var version = input.Version ?? model.ActiveVersion
            ?? throw ActivityErrors.Invalid($"Model '{input.Model}' has no active version.", new() { ["version"] = ["No version given and none is active."] });
        if (model.Versions.All(v => v.Version != version))
        {
            throw ActivityErrors.Invalid($"Model '{input.Model}' has no version '{version}'.", new() { ["version"] = [$"Unknown version '{version}'."] });
        }

        var source = input.DatasetId;
        if (input.Transforms is { Count: > 0 })
        {
            var name = $"batch-{Context.Info.WorkflowId}";
            var existing = (await data.ListDatasetsAsync(ct)).FirstOrDefault(d => d.Name == name);
            source = existing?.Id ?? (await data.MaterializeAsync(input.DatasetId, new MaterializeRequest(name, input.Transforms, $"Input of batch job {Context.Info.WorkflowId}"), ct)).Id;
        }

        var cursors = new List<long>();
        long total = 0, inChunk = 0, last = 0;
        long? cursor = null;
        do
        {
            var page = await data.ReadRowsAsync(source, cursor, PageSize, ct);
            foreach (var row in page.Rows)
            {
                if (inChunk == 0)
                {
                    // A chunk is read from the cursor after the previous chunk's last row (0: from the start).
                    cursors.Add(last);
                }

                inChunk = (inChunk + 1) % input.ChunkSize;
                last = row.RowId;
                total++;
            }

            cursor = page.NextCursor;
            Context.Heartbeat(total);
        }
        while (cursor is not null);

        return new BatchPlan(version, source, cursors, total);
    });

    /// <summary>
    /// Predicts one chunk and stores it as the job's result step <c>chunk-NNNNNN</c>. A chunk stored as succeeded
    /// before (a retry after a crash) is not predicted again.
    /// </summary>
    [Activity("process_chunk")]
    public Task<ChunkResult> ProcessChunkAsync(ChunkInput input) => ActivityErrors.GuardAsync(async () =>
    {
        var ct = Context.CancellationToken;
        var step = $"chunk-{input.Index:D6}";
        var started = time.GetUtcNow();
        var claim = await data.RecordResultAsync(new RecordResultRequest(input.JobId, step, ResultStatus.Running, started, null, input.JobId, input.Model, input.Version), ct);
        if (claim.Status == ResultStatus.Succeeded)
        {
            return new ChunkResult(input.Index, claim.Output?.GetArrayLength() ?? 0, Replayed: true);
        }

        var features = (await models.GetVersionAsync(input.Model, input.Version, ct)).Columns.Where(c => !c.IsLabel).Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var rows = new List<DataRow>(input.ChunkSize);
        long? cursor = input.StartCursor == 0 ? null : input.StartCursor;
        while (rows.Count < input.ChunkSize)
        {
            var page = await data.ReadRowsAsync(input.DatasetId, cursor, Math.Min(PageSize, input.ChunkSize - rows.Count), ct);
            rows.AddRange(page.Rows);
            if (page.NextCursor is null)
            {
                break;
            }

            cursor = page.NextCursor;
        }

        var batch = await models.PredictBatchAsync(
            new PredictBatchRequest(input.Model, rows.Select(r => (IReadOnlyDictionary<string, object?>)r.Values.Where(kv => features.Contains(kv.Key)).ToDictionary()).ToList(), input.Version, UseCache: false),
            ct);
        var output = rows.Zip(batch.Predictions, (row, p) => new { rowId = row.RowId, label = p.Label, value = p.Value, score = p.Score }).ToList();
        try
        {
            await data.RecordResultAsync(new RecordResultRequest(input.JobId, step, ResultStatus.Succeeded, started, time.GetUtcNow(), input.JobId, input.Model, input.Version,
                JsonSerializer.SerializeToElement(new { firstRowId = rows.FirstOrDefault()?.RowId, count = rows.Count }), JsonSerializer.SerializeToElement(output)), ct);
        }
        catch (ModuleException ex) when (ex.Kind == ErrorKind.TooLarge)
        {
            throw new Temporalio.Exceptions.ApplicationFailureException($"Chunk {input.Index} is too large to store; lower Workflows:Batch:ChunkSize.", ErrorTypes.InvalidConfig, nonRetryable: true);
        }

        return new ChunkResult(input.Index, rows.Count, Replayed: false);
    });
}
