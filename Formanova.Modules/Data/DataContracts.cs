using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Formanova.Modules.Data;

public enum ColumnType
{
    Numeric,
    Categorical,
    Boolean,
    Text,
    Datetime,
}

public enum ColumnRole
{
    Feature,
    Label,
    Id,
    Ignore,
}

public enum ImportFormat
{
    Csv,
    Json,
    Ndjson,

    /// <summary>Apache Parquet.</summary>
    Parquet,

    /// <summary>Apache Arrow IPC, the file format (Feather v2) or the stream format.</summary>
    Arrow,
}

public enum ImportErrorMode
{
    Reject,
    Skip,
}

public enum ImportStatus
{
    Committed,
    Rejected,
}

public enum ExportFormat
{
    Csv,
    Json,
    Parquet,
}

public enum TransformOp
{
    Rename,
    Cast,
    Fill,
    Filter,
    Derive,
    Split,
}

public enum FillStrategy
{
    Constant,
    Mean,
    Mode,
}

public enum SplitSubset
{
    Train,
    Test,
}

public enum ResultStatus
{
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

public sealed record ColumnConstraints(
    double? Min = null,
    double? Max = null,
    IReadOnlyList<string>? AllowedValues = null,
    string? Pattern = null,
    int? MaxLength = null);

public sealed record ColumnDefinition(
    string Name,
    ColumnType Type,
    bool Nullable = true,
    ColumnRole Role = ColumnRole.Feature,
    ColumnConstraints? Constraints = null);

public sealed record CreateDatasetRequest(
    string Name,
    IReadOnlyList<ColumnDefinition> Columns,
    string? Description = null,
    bool RequireLabel = false);

public sealed record UpdateSchemaRequest(IReadOnlyList<ColumnDefinition> Columns, bool RequireLabel = false);

public sealed record SchemaVersionInfo(int Version, bool RequireLabel, IReadOnlyList<ColumnDefinition> Columns, DateTimeOffset CreatedAt);

public sealed record DatasetSummary(
    long Id,
    string Name,
    string? Description,
    int SchemaVersion,
    long RowCount,
    long? DerivedFromId,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

public sealed record DatasetDetails(
    long Id,
    string Name,
    string? Description,
    int SchemaVersion,
    bool RequireLabel,
    long RowCount,
    long? DerivedFromId,
    IReadOnlyList<ColumnDefinition> Columns,
    IReadOnlyList<SchemaVersionInfo> Versions,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

public sealed record ImportOptions(
    ImportFormat Format,
    string? ImportId = null,
    ImportErrorMode OnError = ImportErrorMode.Reject,
    char Delimiter = ',');

/// <summary>One rejected value or row; <c>Row</c> is 1-based over data rows (the CSV header is not counted).</summary>
public sealed record RowError(long Row, string? Column, string Reason, string Message);

public sealed record ImportReport(
    string ImportId,
    long DatasetId,
    int SchemaVersion,
    ImportErrorMode OnError,
    ImportStatus Status,
    long RowsRead,
    long RowsAccepted,
    long RowsRejected,
    IReadOnlyList<RowError> Errors,
    IReadOnlyDictionary<string, long> ErrorCounts,
    bool Replayed,
    DateTimeOffset StartedAt,
    DateTimeOffset CompletedAt);

public sealed record DataRow(
    long RowId,
    string ImportId,
    int SchemaVersion,
    DateTimeOffset CreatedAt,
    IReadOnlyDictionary<string, object?> Values);

public sealed record RowPage(
    long DatasetId,
    int SchemaVersion,
    IReadOnlyList<ColumnDefinition> Columns,
    IReadOnlyList<DataRow> Rows,
    long? NextCursor);

/// <summary>One row's batch prediction: the dataset row it answers and the model's label, value and score.</summary>
public sealed record StoredPrediction(long RowId, string? Label, double? Value, double? Score);

/// <summary>The row count and the cursor of each consecutive range of a dataset's rows.</summary>
public sealed record RowChunkPlan(long DatasetId, long TotalRows, IReadOnlyList<long> Cursors);

/// <summary>Rows of one range: <see cref="Rows"/>[i] is the row <see cref="RowIds"/>[i], values in <see cref="Columns"/> order (as in <see
/// cref="RowStream"/>).</summary>
public sealed record RowChunk(
    long DatasetId,
    IReadOnlyList<RowStreamColumn> Columns,
    IReadOnlyList<long> RowIds,
    IReadOnlyList<object?[]> Rows);

/// <summary>
/// What <see cref="IDataModule.CountDistinctAsync"/> found: <see cref="Count"/> distinct non-null values (at most the
/// cap; <see cref="MoreThanCap"/> when the read stopped at the first value past it), the values themselves as text in
/// ordinal order, and the rows read, which is every row unless the cap was passed.
/// </summary>
public sealed record DistinctValues(
    long DatasetId,
    string Column,
    ColumnType Type,
    int Count,
    bool MoreThanCap,
    IReadOnlyList<string> Values,
    long RowsRead);

public sealed record RowStreamColumn(string Name, ColumnType Type, ColumnRole Role);

/// <summary>
/// Rows in <see cref="Columns"/> order; values are <see cref="double"/>, <see cref="string"/>, <see cref="bool"/>,
/// <see cref="DateTimeOffset"/> or null. <see cref="Rows"/> opens its own connection when enumerated and may be enumerated once per call.
/// <see cref="SourceColumns"/> are the dataset's own columns before the transforms and <see cref="Steps"/> the transforms' per-row
/// steps as compiled (what a consumer needs to prepare a raw row the same way later).
/// </summary>
[SuppressMessage("Naming", "CA1711", Justification = "An async sequence of rows, not a System.IO.Stream.")]
public sealed record RowStream(
    long DatasetId,
    int SchemaVersion,
    IReadOnlyList<RowStreamColumn> Columns,
    IAsyncEnumerable<object?[]> Rows,
    IReadOnlyList<RowStreamColumn>? SourceColumns = null,
    IReadOnlyList<FrozenStep>? Steps = null);

/// <summary>
/// A compiled per-row transform step, in order: rename (Column to NewName), cast (Column to Type), fill (nulls of Column
/// with Value, the constant a mean or mode fill computed: double, string, bool or DateTimeOffset), filter (Expression) and
/// derive (NewName from Expression). Column names are those at that step. Split steps choose rows by id and have no
/// per-row form.
/// </summary>
public sealed record FrozenStep(
    TransformOp Op,
    string? Column = null,
    string? NewName = null,
    ColumnType? Type = null,
    object? Value = null,
    string? Expression = null);

/// <summary>
/// One declarative step. Rename: Column, NewName. Cast: Column, Type. Fill: Column, Fill, Value (for Constant).
/// Filter: Expression (boolean, e.g. <c>age &gt;= 18 and [home country] == "FR"</c>). Derive: NewName, Expression (arithmetic).
/// Split: Seed, TestFraction, Subset.
/// </summary>
public sealed record TransformStep(
    TransformOp Op,
    string? Column = null,
    string? NewName = null,
    ColumnType? Type = null,
    FillStrategy? Fill = null,
    JsonElement? Value = null,
    string? Expression = null,
    int? Seed = null,
    double? TestFraction = null,
    SplitSubset? Subset = null);

public sealed record TransformRequest(IReadOnlyList<TransformStep> Transforms, int Limit = 100);

public sealed record MaterializeRequest(string Name, IReadOnlyList<TransformStep> Transforms, string? Description = null);

public sealed record InferredSchema(IReadOnlyList<ColumnDefinition> Columns, long SampledRows);

public sealed record PredictionValidation(
    bool IsValid,
    long DatasetId,
    int SchemaVersion,
    IReadOnlyList<RowError> Errors,
    IReadOnlyDictionary<string, object?> Features);

public sealed record RecordResultRequest(
    string JobId,
    string Step,
    ResultStatus Status,
    DateTimeOffset StartedAt,
    DateTimeOffset? CompletedAt = null,
    string? WorkflowId = null,
    string? ModelName = null,
    string? ModelVersion = null,
    JsonElement? Input = null,
    JsonElement? Output = null,
    string? Error = null);

public sealed record ProcessingResult(
    long Id,
    string JobId,
    string Step,
    string? WorkflowId,
    string? ModelName,
    string? ModelVersion,
    ResultStatus Status,
    JsonElement? Input,
    JsonElement? Output,
    string? Error,
    DateTimeOffset StartedAt,
    DateTimeOffset? CompletedAt,
    double? DurationMs,
    DateTimeOffset RecordedAt);

public sealed record ResultQuery(
    string? JobId = null,
    string? Model = null,
    DateTimeOffset? From = null,
    DateTimeOffset? To = null,
    long? Cursor = null,
    int Limit = 50);

public sealed record ResultPage(IReadOnlyList<ProcessingResult> Items, long? NextCursor);
