using System.Text.Json.Serialization;

namespace Formanova.Modules.Model;

/// <summary>How a column is featurised. Numeric and boolean columns are read as floats; categorical and text as strings.</summary>
public enum ColumnKind
{
    Numeric,
    Categorical,
    Boolean,
    Text,
}

public enum ModelTask
{
    BinaryClassification,
    MulticlassClassification,
    Regression,
}

public enum ModelVersionStatus
{
    Registered,
    Active,
    Archived,
    Failed,
}

/// <summary>One column of a model's tabular schema; exactly one column of a training schema is the label.</summary>
public sealed record ModelColumn(string Name, ColumnKind Kind, bool IsLabel = false);

/// <summary>Where the training rows came from (the Data module's dataset), recorded as lineage.</summary>
public sealed record ModelLineage(string? DatasetId = null, string? DatasetVersion = null, string? RunId = null);

/// <summary>
/// Train one version and register it. <see cref="Columns"/> give the position of each value in the streamed rows.
/// <see cref="Trainer"/> null picks the task's default; <see cref="TestFraction"/> is used when no test rows are given.
/// <see cref="Hyperparameters"/> set the trainer's numeric options by camelCase name (e.g. <c>numberOfLeaves</c>);
/// <see cref="ClassWeighting"/> fits classification with inverse class-frequency weights; <see cref="Leaderboard"/>
/// is the automatic search that chose the trainer, if one did.
/// </summary>
public sealed record TrainModelRequest(
    string Name,
    string Version,
    ModelTask Task,
    IReadOnlyList<ModelColumn> Columns,
    string? Trainer = null,
    int Seed = 42,
    double TestFraction = 0.2,
    bool Activate = false,
    ModelLineage? Lineage = null,
    IReadOnlyDictionary<string, string>? Tags = null,
    string? Notes = null,
    ModelInputContract? Contract = null,
    IReadOnlyDictionary<string, double>? Hyperparameters = null,
    bool ClassWeighting = false,
    IReadOnlyList<CandidateScore>? Leaderboard = null);

/// <summary>A heartbeat-friendly progress report: the stage, rows read so far and an overall fraction in [0, 1].</summary>
public sealed record TrainingProgress(string Stage, long RowsRead, double Fraction);

/// <summary>Evaluation metrics on the test rows; the keys depend on the task (auc, accuracy, f1, logLoss, macroAccuracy, macroF1,
/// microAccuracy, rmse, mae, r2).</summary>
public sealed record TrainingResult(
    ModelVersionInfo Version,
    IReadOnlyDictionary<string, double> Metrics,
    long TrainRows,
    long TestRows,
    long SkippedRows,
    double TrainingSeconds);

public sealed record ModelVersionInfo(
    string Name,
    string Version,
    ModelTask Task,
    string Trainer,
    ModelVersionStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ActivatedAt,
    IReadOnlyList<ModelColumn> Columns,
    IReadOnlyDictionary<string, double> Metrics,
    IReadOnlyDictionary<string, string> Tags,
    ModelLineage Lineage,
    string? Notes,
    string Sha256,
    long SizeBytes,
    IReadOnlyList<string> Aliases,
    string? FailureReason,
    ModelInputContract? Contract = null);

public sealed record ModelSummary(
    string Name,
    ModelTask Task,
    string? ActiveVersion,
    int VersionCount,
    string LatestVersion,
    IReadOnlyDictionary<string, string> Aliases);

/// <summary>A model and its versions, newest semantic version first.</summary>
public sealed record ModelDetails(
    string Name,
    string? ActiveVersion,
    IReadOnlyDictionary<string, string> Aliases,
    IReadOnlyList<ModelVersionInfo> Versions);

/// <summary>The result of marking a version failed: the version now active (the previous stable one), or null if none was left.</summary>
public sealed record FallbackResult(string Name, string FailedVersion, string? ActiveVersion);

/// <summary>Registers an existing ML.NET model zip (e.g. uploaded) with the schema it was trained on.</summary>
public sealed record RegisterModelRequest(
    string Name,
    string Version,
    ModelTask Task,
    IReadOnlyList<ModelColumn> Columns,
    string Trainer = "uploaded",
    ModelLineage? Lineage = null,
    IReadOnlyDictionary<string, string>? Tags = null,
    string? Notes = null,
    IReadOnlyDictionary<string, double>? Metrics = null);

/// <summary>
/// One prediction. Values are double, string, bool, DateTimeOffset or null (JSON elements are accepted too), keyed by the
/// raw columns of the version's input contract. Other keys (the label, ids, unused columns) are ignored and listed in
/// <see cref="PredictionResult.IgnoredColumns"/>, or refused with <see cref="Strict"/>. With neither
/// <see cref="Version"/> nor <see cref="Alias"/> the active version answers.
/// </summary>
public sealed record PredictRequest(
    string Model,
    IReadOnlyDictionary<string, object?> Inputs,
    string? Version = null,
    string? Alias = null,
    bool UseCache = true,
    bool Strict = false);

public sealed record PredictBatchRequest(
    string Model,
    IReadOnlyList<IReadOnlyDictionary<string, object?>> Rows,
    string? Version = null,
    string? Alias = null,
    bool UseCache = true,
    bool Strict = false);

/// <summary>
/// <see cref="Label"/> for classification, <see cref="Value"/> for regression. <see cref="FallbackFrom"/> names the
/// version that failed when the previous stable version answered instead. <see cref="IgnoredColumns"/> lists the keys
/// of a single prediction the model did not read (a batch lists them once, on the batch, and leaves it out per row).
/// </summary>
public sealed record PredictionResult(
    string Model,
    string Version,
    string? Label,
    double? Value,
    double? Score,
    IReadOnlyDictionary<string, double>? Scores,
    IReadOnlyDictionary<string, double>? Probabilities,
    bool Cached,
    double LatencyMs,
    string? FallbackFrom = null,
    string? FallbackReason = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? IgnoredColumns = null);

/// <summary>
/// A batch of positional rows: <see cref="Columns"/> names each position of every row, and a null name skips that
/// position. Every input of the version's contract must be named once; other names are ignored (listed in
/// <see cref="RowPredictions.IgnoredColumns"/>) or, with <see cref="Strict"/>, refused; values
/// follow <see cref="PredictRequest"/>'s rules. <see cref="MaxParallelism"/> caps the threads the call uses (null:
/// every core), for callers that already run several batches side by side. The prediction cache is not used.
/// </summary>
public sealed record PredictRowsRequest(
    string Model,
    IReadOnlyList<string?> Columns,
    IReadOnlyList<object?[]> Rows,
    string? Version = null,
    string? Alias = null,
    int? MaxParallelism = null,
    bool Strict = false);

/// <summary>
/// Predictions of a <see cref="PredictRowsRequest"/> in row order, as three parallel lists: item i of
/// <see cref="Labels"/>, <see cref="Values"/> and <see cref="Scores"/> is what <see cref="PredictionResult.Label"/>,
/// <see cref="PredictionResult.Value"/> and <see cref="PredictionResult.Score"/> would hold for row i.
/// </summary>
public sealed record RowPredictions(
    string Model,
    string Version,
    ModelTask Task,
    IReadOnlyList<string?> Labels,
    IReadOnlyList<double?> Values,
    IReadOnlyList<double?> Scores,
    double LatencyMs,
    string? FallbackFrom = null,
    string? FallbackReason = null,
    IReadOnlyList<string>? IgnoredColumns = null);

public sealed record BatchPredictionResult(
    string Model,
    IReadOnlyList<PredictionResult> Predictions,
    int CachedCount,
    double LatencyMs,
    IReadOnlyList<string>? IgnoredColumns = null);

/// <summary>A load check: whether the version's artifact verifies, loads and answers a probe row.</summary>
public sealed record ModelLoadCheck(string Name, string Version, bool Loaded, double LoadMs, string? Error);
