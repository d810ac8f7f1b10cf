using System.Text.Json;

namespace Formanova.Modules.Data;

/// <summary>
/// The Data module's contract for the host and the workflows: datasets with versioned schemas, validated streaming
/// import, paged and streamed reads, declarative transforms, prediction-input validation and result history.
/// Expected failures throw <c>ModuleException</c> (NotFound, Invalid, Conflict, TooLarge, Unprocessable).
/// </summary>
public interface IDataModule
{
    /// <summary>Creates a dataset with schema version 1. Throws Invalid for a bad schema, Conflict for a taken name.</summary>
    Task<DatasetDetails> CreateDatasetAsync(CreateDatasetRequest request, CancellationToken cancellationToken = default);

    /// <summary>Every dataset, newest first.</summary>
    Task<IReadOnlyList<DatasetSummary>> ListDatasetsAsync(CancellationToken cancellationToken = default);

    /// <summary>One dataset with its current schema and every schema version. Throws NotFound.</summary>
    Task<DatasetDetails> GetDatasetAsync(long datasetId, CancellationToken cancellationToken = default);

    /// <summary>Adds a schema version; rows already stored keep the version they were validated against.</summary>
    Task<DatasetDetails> UpdateSchemaAsync(long datasetId, UpdateSchemaRequest request, CancellationToken cancellationToken = default);

    /// <summary>Deletes the dataset, its schema versions, imports and rows. Throws NotFound.</summary>
    Task DeleteDatasetAsync(long datasetId, CancellationToken cancellationToken = default);

    /// <summary>Proposes column types, nullability and roles from a CSV or JSON sample (only the first rows are read).</summary>
    Task<InferredSchema> InferSchemaAsync(
        Stream sample,
        ImportFormat format,
        char delimiter = ',',
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams, validates and stores rows in one transaction. Idempotent by <see cref="ImportOptions.ImportId"/>: a
    /// repeated id returns the first committed report with <c>Replayed = true</c> and adds no rows. With
    /// <see cref="ImportErrorMode.Reject"/> any bad row commits nothing and the report has status Rejected.
    /// File-level problems (malformed CSV/JSON, invalid UTF-8, limits) throw Invalid or TooLarge and commit nothing.
    /// </summary>
    Task<ImportReport> ImportRowsAsync(
        long datasetId,
        Stream content,
        ImportOptions options,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// The dataset's committed imports, newest first, at most <paramref name="limit"/> (1–100), each as its report was
    /// stored (with the row errors of an import that skipped rows). A rejected import stored nothing, so it is not listed.
    /// </summary>
    Task<IReadOnlyList<ImportReport>> ListImportsAsync(long datasetId, int limit, CancellationToken cancellationToken = default);

    /// <summary>Rows in insertion order after <paramref name="cursor"/> (a row id), in the current schema's columns.</summary>
    Task<RowPage> ReadRowsAsync(long datasetId, long? cursor, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Splits the dataset's rows, in id order, into consecutive ranges of <paramref name="chunkSize"/> rows without
    /// reading their values: <see cref="RowChunkPlan.Cursors"/> holds the cursor (the row id before the range, 0 for
    /// the first) of each range, for <see cref="ReadRowChunkAsync(long, long, int, CancellationToken)"/>.
    /// </summary>
    Task<RowChunkPlan> PlanRowChunksAsync(long datasetId, int chunkSize, CancellationToken cancellationToken = default);

    /// <summary>
    /// At most <paramref name="limit"/> rows after the row id <paramref name="cursor"/>, in one keyset read, as values in
    /// the current schema's column order (the batch read: no per-row dictionary, no page size limit).
    /// </summary>
    Task<RowChunk> ReadRowChunkAsync(long datasetId, long cursor, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="ReadRowChunkAsync(long, long, int, CancellationToken)"/> with <paramref name="transforms"/> applied to
    /// each row as it is read: the chunk's columns are those after the transforms, rows a filter drops are left out,
    /// and <see cref="RowChunk.RowIds"/> are the source rows' ids. The transforms must be frozen
    /// (<see cref="FreezeTransformsAsync"/>): a fill by mean or mode is refused (Invalid), since a statistic of one
    /// chunk is not the dataset's.
    /// </summary>
    Task<RowChunk> ReadRowChunkAsync(
        long datasetId,
        long cursor,
        int limit,
        IReadOnlyList<TransformStep>? transforms,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Checks <paramref name="transforms"/> against the dataset (as <see cref="OpenRowStreamAsync"/> does) and returns
    /// them frozen: each fill by mean or mode becomes a constant fill with the value computed now over the whole
    /// dataset, so chunks read later with them all fill the same value.
    /// </summary>
    Task<IReadOnlyList<TransformStep>> FreezeTransformsAsync(
        long datasetId,
        IReadOnlyList<TransformStep> transforms,
        CancellationToken cancellationToken = default);

    /// <summary>Writes every row to <paramref name="output"/> as CSV (header row), a JSON array or Parquet, streaming.</summary>
    Task ExportAsync(long datasetId, ExportFormat format, Stream output, CancellationToken cancellationToken = default);

    /// <summary>
    /// The training/batch read: the columns (after transforms) and a lazily enumerated, unbuffered row stream in
    /// that column order. Transforms are checked (names, types, expressions) before this returns.
    /// </summary>
    Task<RowStream> OpenRowStreamAsync(
        long datasetId,
        IReadOnlyList<TransformStep>? transforms = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// The distinct non-null values of <paramref name="column"/> (after <paramref name="transforms"/>, when given),
    /// counted over a streamed read that stops as soon as more than <paramref name="cap"/> (1 to 1000) are seen, so a
    /// column with many values costs little. Runs the same on both providers. Throws Invalid naming <c>column</c> when
    /// the column does not exist after the transforms, and as <see cref="OpenRowStreamAsync"/> for bad transforms.
    /// </summary>
    Task<DistinctValues> CountDistinctAsync(
        long datasetId,
        string column,
        int cap,
        IReadOnlyList<TransformStep>? transforms = null,
        CancellationToken cancellationToken = default);

    /// <summary>Applies <paramref name="request"/>'s transforms and stores the output as a new dataset derived from this one.</summary>
    Task<DatasetDetails> MaterializeAsync(long datasetId, MaterializeRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Checks one prediction input (column name → JSON value) against the dataset's current schema with the import
    /// rules. Feature columns are required unless nullable; label, id and ignore columns are optional; unknown names
    /// are errors. Every problem is listed; <c>Features</c> holds the typed values when valid.
    /// </summary>
    Task<PredictionValidation> ValidatePredictionInputAsync(
        long datasetId,
        IReadOnlyDictionary<string, JsonElement> input,
        CancellationToken cancellationToken = default);

    /// <summary>The most recently stored row whose id-role column equals <paramref name="entityId"/>, or null.</summary>
    Task<DataRow?> FindRowByEntityIdAsync(long datasetId, string entityId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores a processing result, idempotent by (JobId, Step): a retry overwrites an earlier attempt unless that
    /// attempt already succeeded, in which case the stored result is returned unchanged.
    /// </summary>
    Task<ProcessingResult> RecordResultAsync(RecordResultRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores the row-level predictions of one chunk of a batch job, replacing whatever that chunk stored before in
    /// one transaction: a retried chunk never duplicates rows. The chunk is stored as one packed record.
    /// </summary>
    Task StorePredictionsAsync(
        string jobId,
        int chunk,
        IReadOnlyList<StoredPrediction> predictions,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Every stored prediction of a batch job as a Parquet file (columns rowId, label, value, score), streamed one row
    /// group at a time (the CSV form is written by the host from <see cref="ReadPredictionsAsync"/>).
    /// </summary>
    Task ExportPredictionsAsParquetAsync(string jobId, Stream output, CancellationToken cancellationToken = default);

    /// <summary>Every stored prediction of a batch job, in chunk then row order, streamed.</summary>
    IAsyncEnumerable<StoredPrediction> ReadPredictionsAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>Result history filtered by job, model name and time range (StartedAt), newest first, keyset-paged.</summary>
    Task<ResultPage> QueryResultsAsync(ResultQuery query, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends predictions to the prediction log (docs/feedback.md) in one transaction; an id already logged is
    /// skipped, so a retried batch never duplicates. Returns the rows written.
    /// </summary>
    Task<int> LogPredictionsAsync(IReadOnlyList<LoggedPrediction> predictions, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores the true outcomes of logged predictions, all or nothing: each item is matched by prediction id, or by
    /// model + entity key (the entity's latest logged answer at or before <see cref="FeedbackItem.At"/>). An item
    /// that matches nothing is reported <see cref="FeedbackStatus.Unknown"/> and the rest are stored; the same outcome
    /// again is <see cref="FeedbackStatus.Unchanged"/>. An outcome of the wrong type for the prediction's task throws
    /// Invalid, and a different outcome for a prediction that has one throws Conflict, both naming
    /// <c>items[i].outcome</c>, and nothing is stored.
    /// </summary>
    Task<IReadOnlyList<FeedbackItemResult>> RecordFeedbackAsync(
        IReadOnlyList<FeedbackItem> items,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// The model's logged predictions over [<paramref name="since"/>, <paramref name="until"/>) joined with their
    /// feedback, one group per version (and experiment arm): counts, error and fallback rates, p95 latency, the
    /// task's quality metrics and the sufficient statistics of each loss. AUC uses the newest
    /// <paramref name="aucSampleRows"/> binary predictions with feedback of a group.
    /// </summary>
    Task<OutcomeSummary> SummarizeOutcomesAsync(
        string model,
        DateTimeOffset since,
        DateTimeOffset until,
        int aucSampleRows = 10_000,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes logged predictions from before <paramref name="before"/>, then the oldest beyond
    /// <paramref name="maxRows"/>; returns how many went.
    /// </summary>
    Task<long> SweepPredictionLogAsync(DateTimeOffset before, long maxRows, CancellationToken cancellationToken = default);

    /// <summary>How many predictions the log holds.</summary>
    Task<long> CountLoggedPredictionsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// A batch job's stored prediction of the source row <paramref name="rowId"/>, with the job's model and version,
    /// or null.
    /// </summary>
    Task<BatchRowPrediction?> FindBatchPredictionAsync(string jobId, long rowId, CancellationToken cancellationToken = default);
}
