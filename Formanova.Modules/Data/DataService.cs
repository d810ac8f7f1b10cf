using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Formanova.Modules.Data.Import;
using Formanova.Modules.Data.Outcomes;
using Formanova.Modules.Data.Results;
using Formanova.Modules.Data.Schema;
using Formanova.Modules.Data.Storage;
using Formanova.Modules.Data.Transforms;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Rows;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Data;

/// <summary>A dataset with every schema version parsed, loaded once per operation.</summary>
internal sealed record LoadedDataset(DatasetRow Row, IReadOnlyList<SchemaVersionInfo> Versions)
{
    public SchemaVersionInfo Current => Versions[^1];

    public CompiledSchema Compile() => new(Current.Version, Current.Columns);
}

internal sealed class DataService(
    DatasetRepository datasets,
    RowStore rows,
    ImportStaging staging,
    Importer importer,
    SchemaInference inference,
    ResultRepository results,
    PredictionStore predictionStore,
    PredictionLog log,
    IOptions<DataOptions> options,
    TimeProvider clock) : IDataModule
{
    public async Task<DatasetDetails> CreateDatasetAsync(CreateDatasetRequest request, CancellationToken cancellationToken = default) =>
        await CreateAsync(request, derivedFromId: null, cancellationToken);

    private async Task<DatasetDetails> CreateAsync(CreateDatasetRequest request, long? derivedFromId, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, List<string>>();
        SchemaRules.ValidateDatasetName(request.Name, errors);
        SchemaRules.ValidateColumns(request.Columns, request.RequireLabel, options.Value.MaxColumns, errors);
        if (request.Description is { Length: > 2000 })
        {
            SchemaRules.Add(errors, "description", "A description has at most 2000 characters.");
        }

        SchemaRules.ThrowIfAny(errors, "The dataset definition is invalid.");
        var id = await datasets.CreateAsync(
            request.Name.Trim(),
            request.Description,
            request.RequireLabel,
            derivedFromId,
            DataJson.Serialize(request.Columns),
            clock.GetUtcNow(),
            cancellationToken)
            ?? throw new ModuleException(ErrorKind.Conflict, $"A dataset named '{request.Name.Trim()}' already exists.");
        return await GetDatasetAsync(id, cancellationToken);
    }

    public async Task<IReadOnlyList<DatasetSummary>> ListDatasetsAsync(CancellationToken cancellationToken = default) =>
        (await datasets.ListAsync(cancellationToken))
            .Select(
                d => new DatasetSummary(
                    d.Id, d.Name, d.Description, d.SchemaVersion, d.RowCount, d.DerivedFromId, d.CreatedAt, d.UpdatedAt))
            .ToList();

    public async Task<DatasetDetails> GetDatasetAsync(long datasetId, CancellationToken cancellationToken = default)
    {
        var loaded = await LoadAsync(datasetId, cancellationToken);
        var d = loaded.Row;
        return new DatasetDetails(
            d.Id,
            d.Name,
            d.Description,
            d.SchemaVersion,
            d.RequireLabel,
            d.RowCount,
            d.DerivedFromId,
            loaded.Current.Columns,
            loaded.Versions,
            d.CreatedAt,
            d.UpdatedAt);
    }

    public async Task<DatasetDetails> UpdateSchemaAsync(
        long datasetId,
        UpdateSchemaRequest request,
        CancellationToken cancellationToken = default)
    {
        var errors = new Dictionary<string, List<string>>();
        SchemaRules.ValidateColumns(request.Columns, request.RequireLabel, options.Value.MaxColumns, errors);
        SchemaRules.ThrowIfAny(errors, "The schema is invalid.");
        _ = await datasets.AddVersionAsync(
            datasetId,
            DataJson.Serialize(request.Columns),
            request.RequireLabel,
            clock.GetUtcNow(),
            cancellationToken)
            ?? throw ModuleException.NotFound("Dataset", datasetId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return await GetDatasetAsync(datasetId, cancellationToken);
    }

    public async Task DeleteDatasetAsync(long datasetId, CancellationToken cancellationToken = default)
    {
        if (!await DeleteAsync(datasetId, cancellationToken))
        {
            throw NotFound(datasetId);
        }
    }

    private async Task<bool> DeleteAsync(long datasetId, CancellationToken cancellationToken)
    {
        if (!await datasets.DeleteAsync(datasetId, clock.GetUtcNow(), cancellationToken))
        {
            return false;
        }

        // The dataset is gone for every reader already; its rows follow in short transactions.
        await staging.PurgeDatasetAsync(datasetId, cancellationToken);
        return true;
    }

    public Task<InferredSchema> InferSchemaAsync(
        Stream sample,
        ImportFormat format,
        char delimiter = ',',
        CancellationToken cancellationToken = default)
    {
        CheckDelimiter(delimiter);
        return inference.InferAsync(sample, format, delimiter, cancellationToken);
    }

    public async Task<ImportReport> ImportRowsAsync(
        long datasetId,
        Stream content,
        ImportOptions options,
        CancellationToken cancellationToken = default)
    {
        CheckDelimiter(options.Delimiter);
        if (!Enum.IsDefined(options.Format) || !Enum.IsDefined(options.OnError))
        {
            throw ModuleException.Invalid("format", "Unknown import format or error mode.");
        }

        var importId = options.ImportId ?? Guid.NewGuid().ToString("N");
        if (string.IsNullOrWhiteSpace(importId) || importId.Length > 200 || importId.Any(char.IsControl))
        {
            throw ModuleException.Invalid("importId", "An import id has 1 to 200 characters and no control characters.");
        }

        var loaded = await LoadAsync(datasetId, cancellationToken);
        if (await datasets.GetImportReportAsync(datasetId, importId, cancellationToken) is { } stored)
        {
            return DataJson.Deserialize<ImportReport>(stored) with { Replayed = true };
        }

        return await importer.ImportAsync(datasetId, loaded.Compile(), content, options, importId, cancellationToken);
    }

    public async Task<IReadOnlyList<ImportReport>> ListImportsAsync(
        long datasetId,
        int limit,
        CancellationToken cancellationToken = default)
    {
        if (limit is < 1 or > 100)
        {
            throw ModuleException.Invalid("limit", "limit must be between 1 and 100.");
        }

        await LoadAsync(datasetId, cancellationToken);
        var reports = await datasets.ListImportReportsAsync(datasetId, limit, cancellationToken);
        return [.. reports.Select(DataJson.Deserialize<ImportReport>)];
    }

    public async Task<RowPage> ReadRowsAsync(long datasetId, long? cursor, int limit, CancellationToken cancellationToken = default)
    {
        if (limit < 1 || limit > options.Value.MaxPageSize)
        {
            throw ModuleException.Invalid("limit", $"limit must be between 1 and {options.Value.MaxPageSize}.");
        }

        var loaded = await LoadAsync(datasetId, cancellationToken);
        var projector = new RowProjector(loaded.Versions);
        var page = await rows.ReadPageAsync(datasetId, cursor ?? 0, limit + 1, cancellationToken);
        var columns = loaded.Current.Columns;
        var items = page.Take(limit).Select(r => ToDataRow(r, projector, columns)).ToList();
        return new RowPage(datasetId, loaded.Current.Version, columns, items, page.Count > limit ? items[^1].RowId : null);
    }

    public async Task<RowChunkPlan> PlanRowChunksAsync(long datasetId, int chunkSize, CancellationToken cancellationToken = default)
    {
        if (chunkSize < 1)
        {
            throw ModuleException.Invalid("chunkSize", "chunkSize must be at least 1.");
        }

        await LoadAsync(datasetId, cancellationToken);
        var (total, cursors) = await rows.PlanRangesAsync(datasetId, chunkSize, cancellationToken);
        return new RowChunkPlan(datasetId, total, cursors);
    }

    public Task<RowChunk> ReadRowChunkAsync(long datasetId, long cursor, int limit, CancellationToken cancellationToken = default) =>
        ReadRowChunkAsync(datasetId, cursor, limit, null, cancellationToken);

    public async Task<RowChunk> ReadRowChunkAsync(
        long datasetId,
        long cursor,
        int limit,
        IReadOnlyList<TransformStep>? transforms,
        CancellationToken cancellationToken = default)
    {
        if (limit < 1)
        {
            throw ModuleException.Invalid("limit", "limit must be at least 1.");
        }

        if (transforms?.Any(t => t is { Op: TransformOp.Fill, Fill: FillStrategy.Mean or FillStrategy.Mode }) == true)
        {
            throw ModuleException.Invalid(
                "transforms",
                "A chunk read takes frozen transforms: pass fills by mean or mode through FreezeTransformsAsync first.");
        }

        // Frozen transforms compile without reading any row.
        var (loaded, pipeline) = await CompileAsync(datasetId, transforms, cancellationToken);
        var projector = new RowProjector(loaded.Versions);
        var stored = await rows.ReadRangeAsync(datasetId, cursor, limit, cancellationToken);
        var ids = new long[stored.Count];
        var values = new object?[stored.Count][];
        var kept = 0;
        for (var i = 0; i < stored.Count; i++)
        {
            var row = projector.Project(stored[i].SchemaVersion, stored[i].Payload);
            if (pipeline.StepCount > 0)
            {
                if (pipeline.Apply(stored[i].Id, row) is not { } transformed)
                {
                    continue;
                }

                row = transformed;
            }

            ids[kept] = stored[i].Id;
            values[kept++] = row;
        }

        if (kept < stored.Count)
        {
            // One copy per chunk when a filter dropped rows; the batch path wants arrays.
            Array.Resize(ref ids, kept);
            Array.Resize(ref values, kept);
        }

        var columns = pipeline.Columns.Select(c => new RowStreamColumn(c.Name, c.Type, c.Role)).ToList();
        return new RowChunk(datasetId, columns, ids, values);
    }

    public async Task<IReadOnlyList<TransformStep>> FreezeTransformsAsync(
        long datasetId,
        IReadOnlyList<TransformStep> transforms,
        CancellationToken cancellationToken = default)
    {
        var (_, pipeline) = await CompileAsync(datasetId, transforms ?? [], cancellationToken);
        return pipeline.FrozenRequest;
    }

    public async Task StorePredictionsAsync(
        string jobId,
        int chunk,
        IReadOnlyList<StoredPrediction> predictions,
        CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(jobId) || chunk < 0)
        {
            throw ModuleException.Invalid("jobId", "A job id and a chunk number of at least 0 are required.");
        }

        await predictionStore.ReplaceChunkAsync(jobId, chunk, predictions, cancellationToken);
    }

    public IAsyncEnumerable<StoredPrediction> ReadPredictionsAsync(string jobId, CancellationToken cancellationToken = default) =>
        predictionStore.StreamAsync(jobId, cancellationToken);

    public async Task ExportAsync(long datasetId, ExportFormat format, Stream output, CancellationToken cancellationToken = default)
    {
        var stream = await OpenRowStreamAsync(datasetId, null, cancellationToken);
        await (format switch
        {
            ExportFormat.Csv => RowExport.WriteCsvAsync(stream, output, cancellationToken),
            ExportFormat.Parquet => ParquetExport.WriteRowsAsync(stream, output, options.Value.ExportRowGroupRows, cancellationToken),
            _ => RowExport.WriteJsonAsync(stream, output, cancellationToken),
        });
    }

    public Task ExportPredictionsAsParquetAsync(string jobId, Stream output, CancellationToken cancellationToken = default) =>
        ParquetExport.WritePredictionsAsync(
            predictionStore.StreamAsync(jobId, cancellationToken),
            output,
            options.Value.ExportRowGroupRows,
            cancellationToken);

    public async Task<RowStream> OpenRowStreamAsync(
        long datasetId,
        IReadOnlyList<TransformStep>? transforms = null,
        CancellationToken cancellationToken = default)
    {
        var (loaded, pipeline) = await CompileAsync(datasetId, transforms, cancellationToken);
        var columns = pipeline.Columns.Select(c => new RowStreamColumn(c.Name, c.Type, c.Role)).ToList();
        return new RowStream(
            datasetId,
            loaded.Current.Version,
            columns,
            Transformed(datasetId, new RowProjector(loaded.Versions), pipeline, CancellationToken.None),
            [.. loaded.Current.Columns.Select(c => new RowStreamColumn(c.Name, c.Type, c.Role))],
            pipeline.Frozen);
    }

    private async Task<(LoadedDataset Loaded, TransformPipeline Pipeline)> CompileAsync(
        long datasetId,
        IReadOnlyList<TransformStep>? transforms,
        CancellationToken cancellationToken)
    {
        var loaded = await LoadAsync(datasetId, cancellationToken);
        var projector = new RowProjector(loaded.Versions);
        var pipeline = await TransformCompiler.CompileAsync(
            loaded.Current.Columns,
            transforms,
            ct => Projected(datasetId, projector, ct),
            cancellationToken);
        return (loaded, pipeline);
    }

    private async IAsyncEnumerable<(long Id, object?[] Values)> Projected(
        long datasetId,
        RowProjector projector,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var row in rows.StreamAsync(datasetId, cancellationToken))
        {
            yield return (row.Id, projector.Project(row.SchemaVersion, row.Payload));
        }
    }

    // One iterator over the reader rather than a chain of them: this loop is the training read's whole per-row cost.
    private async IAsyncEnumerable<object?[]> Transformed(
        long datasetId,
        RowProjector projector,
        TransformPipeline pipeline,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var stored in rows.StreamAsync(datasetId, cancellationToken))
        {
            var values = projector.Project(stored.SchemaVersion, stored.Payload);
            if (pipeline.StepCount == 0)
            {
                yield return values;
            }
            else if (pipeline.Apply(stored.Id, values) is { } row)
            {
                yield return row;
            }
        }
    }

    public async Task<DistinctValues> CountDistinctAsync(
        long datasetId,
        string column,
        int cap,
        IReadOnlyList<TransformStep>? transforms = null,
        CancellationToken cancellationToken = default)
    {
        if (cap is < 1 or > 1000)
        {
            throw ModuleException.Invalid("cap", "cap must be between 1 and 1000.");
        }

        var (loaded, pipeline) = await CompileAsync(datasetId, transforms, cancellationToken);
        var index = pipeline.Columns.FindIndex(c => c.Name == column);
        if (index < 0)
        {
            throw ModuleException.Invalid("column", $"'{column}' is not a column of dataset {datasetId}.");
        }

        var seen = new HashSet<object>();
        long read = 0;
        await foreach (var row in Transformed(datasetId, new RowProjector(loaded.Versions), pipeline, cancellationToken))
        {
            read++;
            if (row[index] is { } value && seen.Add(value) && seen.Count > cap)
            {
                break;
            }
        }

        var values = seen.Select(v => ValueText.Format(v) ?? "").Order(StringComparer.Ordinal).Take(cap).ToList();
        var type = pipeline.Columns[index].Type;
        return new DistinctValues(datasetId, column, type, Math.Min(seen.Count, cap), seen.Count > cap, values, read);
    }

    public async Task<DatasetDetails> MaterializeAsync(
        long datasetId,
        MaterializeRequest request,
        CancellationToken cancellationToken = default)
    {
        if (request.Transforms is null)
        {
            throw ModuleException.Invalid("transforms", "A list of transforms is required (it may be empty to copy the dataset).");
        }

        var (loaded, pipeline) = await CompileAsync(datasetId, request.Transforms, cancellationToken);
        var created = await CreateAsync(new CreateDatasetRequest(
            request.Name,
            pipeline.Columns,
            request.Description ?? $"Derived from dataset {datasetId}",
            loaded.Row.RequireLabel), datasetId, cancellationToken);
        try
        {
            var entityColumn = CompiledSchema.FindEntityColumn(pipeline.Columns);
            var importId = $"materialize-from-{datasetId}";
            var started = clock.GetUtcNow();
            long count = 0;
            var batch = staging.NewBatch();
            await using var attempt = await staging.BeginAsync(created.Id, importId, 1, started, cancellationToken);
            await foreach (var row in Transformed(datasetId, new RowProjector(loaded.Versions), pipeline, cancellationToken))
            {
                batch.Add(++count, CompiledSchema.EntityHash(row, entityColumn), row);
                if (batch.IsFull)
                {
                    var full = batch.Take();
                    await attempt.WriteAsync(full.Rows, cancellationToken);
                    batch.Return(full);
                }
            }

            if (batch.Count > 0)
            {
                await attempt.WriteAsync(batch.Take().Rows, cancellationToken);
            }

            var report = new ImportReport(
                importId,
                created.Id,
                1,
                ImportErrorMode.Reject,
                ImportStatus.Committed,
                count,
                count,
                0,
                [],
                new Dictionary<string, long>(),
                false,
                started,
                clock.GetUtcNow());
            await attempt.PublishAsync(DataJson.Serialize(report), count, report.CompletedAt, cancellationToken);
            await rows.RefreshStatisticsAsync(count, cancellationToken);
        }
        catch
        {
            await DeleteAsync(created.Id, CancellationToken.None);
            throw;
        }

        return await GetDatasetAsync(created.Id, cancellationToken);
    }

    public async Task<PredictionValidation> ValidatePredictionInputAsync(
        long datasetId,
        IReadOnlyDictionary<string, JsonElement> input,
        CancellationToken cancellationToken = default)
    {
        var loaded = await LoadAsync(datasetId, cancellationToken);
        var schema = loaded.Compile();
        var errors = new List<RowError>();
        var features = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in input ?? new Dictionary<string, JsonElement>())
        {
            var index = schema.IndexOf(name);
            if (index < 0)
            {
                errors.Add(
                    new RowError(1, name, "unknownColumn", $"'{name}' is not a column of the dataset schema (version {schema.Version})."));
                continue;
            }

            var column = schema.Columns[index];
            if (column.FromJson(value, out var typed) is { } failure)
            {
                errors.Add(new RowError(1, name, failure.Reason, failure.Message));
            }
            else if (column.Definition.Role == ColumnRole.Feature)
            {
                features[name] = typed;
            }
        }

        foreach (var column in schema.Columns.Where(c => c.Definition.Role == ColumnRole.Feature && !(input?.ContainsKey(c.Name) ?? false)))
        {
            if (column.CheckConstraints(null) is { } missing)
            {
                errors.Add(new RowError(1, column.Name, missing.Reason, missing.Message));
            }
            else
            {
                features[column.Name] = null;
            }
        }

        return new PredictionValidation(
            errors.Count == 0,
            datasetId,
            schema.Version,
            errors,
            errors.Count == 0 ? features : new Dictionary<string, object?>());
    }

    public async Task<DataRow?> FindRowByEntityIdAsync(long datasetId, string entityId, CancellationToken cancellationToken = default)
    {
        var loaded = await LoadAsync(datasetId, cancellationToken);
        var entityColumn = CompiledSchema.FindEntityColumn(loaded.Current.Columns);
        if (entityColumn < 0)
        {
            throw new ModuleException(ErrorKind.Unprocessable, $"Dataset {datasetId} has no column with the role 'id' to look rows up by.");
        }

        var projector = new RowProjector(loaded.Versions);
        foreach (var candidate in await rows.FindByEntityHashAsync(datasetId, ValueText.EntityHash(entityId ?? ""), cancellationToken))
        {
            var row = ToDataRow(candidate, projector, loaded.Current.Columns);
            if (ValueText.Format(row.Values[loaded.Current.Columns[entityColumn].Name]) == entityId)
            {
                return row;
            }
        }

        return null;
    }

    public Task<ProcessingResult> RecordResultAsync(RecordResultRequest request, CancellationToken cancellationToken = default) =>
        results.RecordAsync(request, cancellationToken);

    public Task<ResultPage> QueryResultsAsync(ResultQuery query, CancellationToken cancellationToken = default) =>
        results.QueryAsync(query, options.Value.MaxPageSize, cancellationToken);

    public Task<int> LogPredictionsAsync(IReadOnlyList<LoggedPrediction> predictions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        return log.AppendAsync(predictions, cancellationToken);
    }

    public Task<IReadOnlyList<FeedbackItemResult>> RecordFeedbackAsync(
        IReadOnlyList<FeedbackItem> items,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        var errors = new Dictionary<string, string[]>();
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (item.PredictionId is null && (item.Model is null || item.EntityId is null))
            {
                errors[$"items[{i}]"] = ["Name the prediction by predictionId, or by model and entityId."];
            }

            if ((item.Label is null) == (item.Value is null))
            {
                errors[$"items[{i}].outcome"] = ["The outcome is a class (string) or a number."];
            }
        }

        return errors.Count > 0
            ? throw new ModuleException(ErrorKind.Invalid, "The feedback is invalid.", errors)
            : log.RecordAsync(items, cancellationToken);
    }

    public Task<OutcomeSummary> SummarizeOutcomesAsync(
        string model,
        DateTimeOffset since,
        DateTimeOffset until,
        int aucSampleRows = 10_000,
        CancellationToken cancellationToken = default)
    {
        if (since >= until)
        {
            throw ModuleException.Invalid("since", "since must be earlier than until.");
        }

        return aucSampleRows < 1
            ? throw ModuleException.Invalid("aucSampleRows", "aucSampleRows must be at least 1.")
            : log.SummarizeAsync(model, since, until, aucSampleRows, cancellationToken);
    }

    public Task<long> SweepPredictionLogAsync(DateTimeOffset before, long maxRows, CancellationToken cancellationToken = default) =>
        maxRows < 0
            ? throw ModuleException.Invalid("maxRows", "maxRows must be at least 0.")
            : log.SweepAsync(before, maxRows, cancellationToken);

    public Task<long> CountLoggedPredictionsAsync(CancellationToken cancellationToken = default) => log.CountAsync(cancellationToken);

    public Task<BatchRowPrediction?> FindBatchPredictionAsync(string jobId, long rowId, CancellationToken cancellationToken = default) =>
        predictionStore.FindAsync(jobId, rowId, cancellationToken);

    private async Task<LoadedDataset> LoadAsync(long datasetId, CancellationToken cancellationToken)
    {
        var row = await datasets.GetAsync(datasetId, cancellationToken) ?? throw NotFound(datasetId);
        var versions = (await datasets.GetVersionsAsync(datasetId, cancellationToken))
            .Select(
                v => new SchemaVersionInfo(v.Version, v.RequireLabel, DataJson.Deserialize<List<ColumnDefinition>>(v.Columns), v.CreatedAt))
            .ToList();
        return new LoadedDataset(row, versions);
    }

    private static DataRow ToDataRow(StoredRowMeta row, RowProjector projector, IReadOnlyList<ColumnDefinition> columns)
    {
        var values = projector.Project(row.SchemaVersion, row.Payload);
        var named = new Dictionary<string, object?>(columns.Count, StringComparer.Ordinal);
        for (var i = 0; i < columns.Count; i++)
        {
            named[columns[i].Name] = values[i];
        }

        return new DataRow(row.Id, row.ImportId, row.SchemaVersion, row.CreatedAt, named);
    }

    private static void CheckDelimiter(char delimiter)
    {
        if (delimiter is '"' or '\r' or '\n' or '\0')
        {
            throw ModuleException.Invalid("delimiter", "The delimiter cannot be a quote, a line break or NUL.");
        }
    }

    private static ModuleException NotFound(long datasetId)
        => ModuleException.NotFound("Dataset", datasetId.ToString(System.Globalization.CultureInfo.InvariantCulture));
}

/// <summary>
/// Reads rows stored under any schema version in the current version's columns: matched by name, converted where
/// the type changed, null where the column is new.
/// </summary>
internal sealed class RowProjector
{
    private readonly Dictionary<int, (int Width, int[]? Map, ColumnType[] Types)> _versions = [];
    private readonly int _current;
    private readonly int _width;

    public RowProjector(IReadOnlyList<SchemaVersionInfo> versions)
    {
        var current = versions[^1];
        _current = current.Version;
        _width = current.Columns.Count;
        var types = current.Columns.Select(c => c.Type).ToArray();
        foreach (var version in versions)
        {
            var map = version.Version == _current ? null : current.Columns.Select(c => FindIndex(version.Columns, c.Name)).ToArray();
            _versions[version.Version] = (version.Columns.Count, map, types);
        }

        int FindIndex(IReadOnlyList<ColumnDefinition> columns, string name)
        {
            for (var i = 0; i < columns.Count; i++)
            {
                if (columns[i].Name == name)
                {
                    return i;
                }
            }

            return -1;
        }
    }

    public object?[] Project(int version, byte[] payload)
    {
        var (width, map, types) = _versions[version];
        var stored = RowCodec.Decode(payload, width);
        if (map is null)
        {
            return stored;
        }

        var values = new object?[_width];
        for (var i = 0; i < _width; i++)
        {
            values[i] = map[i] < 0 ? null : Casting.Convert(stored[map[i]], types[i].ToScalar());
        }

        return values;
    }
}

/// <summary>Streamed CSV and JSON writers over a <see cref="RowStream"/>.</summary>
internal static class RowExport
{
    public static async Task WriteCsvAsync(RowStream stream, Stream output, CancellationToken cancellationToken)
    {
        // RFC 4180 line endings whatever the server's OS.
        await using var writer = new StreamWriter(output, new UTF8Encoding(false), 64 * 1024, leaveOpen: true) { NewLine = "\r\n" };
        await writer.WriteLineAsync(string.Join(',', stream.Columns.Select(c => Quote(c.Name))).AsMemory(), cancellationToken);
        var line = new StringBuilder();
        await foreach (var row in stream.Rows.WithCancellation(cancellationToken))
        {
            line.Clear();
            for (var i = 0; i < row.Length; i++)
            {
                if (i > 0)
                {
                    line.Append(',');
                }

                line.Append(Quote(ValueText.Format(row[i])));
            }

            line.Append("\r\n");
            await writer.WriteAsync(line, cancellationToken);
        }

        await writer.FlushAsync(cancellationToken);
    }

    public static async Task WriteJsonAsync(RowStream stream, Stream output, CancellationToken cancellationToken)
    {
        await using var writer = new Utf8JsonWriter(output);
        var names = stream.Columns.Select(c => JsonEncodedText.Encode(c.Name)).ToArray();
        writer.WriteStartArray();
        await foreach (var row in stream.Rows.WithCancellation(cancellationToken))
        {
            writer.WriteStartObject();
            for (var i = 0; i < row.Length; i++)
            {
                switch (row[i])
                {
                    case null:
                        writer.WriteNull(names[i]);
                        break;
                    case double d:
                        writer.WriteNumber(names[i], d);
                        break;
                    case bool b:
                        writer.WriteBoolean(names[i], b);
                        break;
                    case DateTimeOffset t:
                        writer.WriteString(names[i], ValueText.Format(t));
                        break;
                    default:
                        writer.WriteString(names[i], (string)row[i]!);
                        break;
                }
            }

            writer.WriteEndObject();
            if (writer.BytesPending > 32 * 1024)
            {
                await writer.FlushAsync(cancellationToken);
            }
        }

        writer.WriteEndArray();
        await writer.FlushAsync(cancellationToken);
    }

    private static string Quote(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        return value.AsSpan().IndexOfAny(",\"\r\n") >= 0 || char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1])
            ? $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\""
            : value;
    }
}
