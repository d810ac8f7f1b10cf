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
/// is the automatic search that chose the trainer, if one did. With <see cref="Ensemble"/> the run registers an ensemble
/// of those members instead, evaluated on held-out rows (and, for stacking, with its meta-learner fit on the rest).
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
    IReadOnlyList<CandidateScore>? Leaderboard = null,
    IReadOnlyList<ReportColumn>? ColumnNotes = null,
    EnsembleSpec? Ensemble = null);

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
    double TrainingSeconds,
    TrainingReport? Report = null);

/// <summary>
/// A version as the registry knows it. <see cref="Report"/> is filled by the single-version read only (the
/// training report of a version the service trained); lists leave it out. <see cref="Framework"/> says what the
/// artifact is; an ONNX version also has the <see cref="Opset"/> of its default domain and its <see cref="Signature"/>.
/// </summary>
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
    ModelInputContract? Contract = null,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    TrainingReport? Report = null,
    ModelFramework Framework = ModelFramework.Mlnet,
    int? Opset = null,
    OnnxSignature? Signature = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] EnsembleInfo? Ensemble = null);

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
/// <see cref="Version"/> nor <see cref="Alias"/> the active version answers. <see cref="EntityId"/> is the caller's
/// key for what was predicted (a customer, an order), kept with the logged prediction so that feedback can name it
/// (<see cref="Shared.EntityKeys"/> gives its rules). <see cref="IncludeMembers"/> asks an ensemble for each member's answer too
/// (<see cref="PredictionResult.Members"/>).
/// </summary>
public sealed record PredictRequest(
    string Model,
    IReadOnlyDictionary<string, object?> Inputs,
    string? Version = null,
    string? Alias = null,
    bool UseCache = true,
    bool Strict = false,
    string? EntityId = null,
    bool IncludeMembers = false);

/// <summary>
/// <see cref="EntityIds"/>, when given, holds one entity key (or null) per row, as <see cref="PredictRequest.EntityId"/>.
/// </summary>
public sealed record PredictBatchRequest(
    string Model,
    IReadOnlyList<IReadOnlyDictionary<string, object?>> Rows,
    string? Version = null,
    string? Alias = null,
    bool UseCache = true,
    bool Strict = false,
    IReadOnlyList<string?>? EntityIds = null,
    bool IncludeMembers = false);

/// <summary>
/// <see cref="Label"/> for classification, <see cref="Value"/> for regression. <see cref="FallbackFrom"/> names the
/// version that failed when the previous stable version answered instead. <see cref="IgnoredColumns"/> lists the keys
/// of a single prediction the model did not read (a batch lists them once, on the batch, and leaves it out per row).
/// <see cref="PredictionId"/> names this answer for feedback (docs/feedback.md): time-ordered, new for every answer,
/// a cached one included.
/// <see cref="Members"/> holds an ensemble's per-member answers when the request asked for them.
/// <see cref="Experiment"/> and <see cref="Arm"/> name the experiment arm that served a routed request
/// (docs/experiments.md). <see cref="ServedPredictionId"/> is set on a shadow arm's prediction only, for the
/// prediction log: the served prediction it scored a copy of (never serialised).
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
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? IgnoredColumns = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? PredictionId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<MemberPrediction>? Members = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Experiment = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Arm = null,
    [property: JsonIgnore] string? ServedPredictionId = null);

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

/// <summary>What a training run did with a column (docs/model.md, "The training report").</summary>
public enum ReportColumnUse
{
    Feature,
    Label,
    Derived,
    Ignored,
    Dropped,
}

/// <summary>
/// A column of the training report. <see cref="TrainModelRequest.ColumnNotes"/> carries the dataset columns the
/// caller left out of <see cref="TrainModelRequest.Columns"/> (ignored or dropped, with the reason) and the derived
/// features it made (<see cref="DerivedFrom"/> names the source column), so the report lists every column once.
/// </summary>
public sealed record ReportColumn(string Name, ReportColumnUse Use, string Reason, ColumnKind? Kind = null, string? DerivedFrom = null);

/// <summary>
/// What a training run read: <see cref="Read"/> rows in, <see cref="Train"/> + <see cref="Test"/> used, and the rows
/// left out by reason (<c>noLabel</c>). A row with an invalid value is not skipped: it fails the run with its problems.
/// </summary>
public sealed record TrainingRowCounts(long Read, long Train, long Test, long Skipped, IReadOnlyDictionary<string, long> SkippedByReason);

/// <summary>Train and test rows of one class.</summary>
public sealed record ClassCount(string Class, long Train, long Test);

/// <summary>The spread of a numeric label over one split.</summary>
public sealed record LabelStatistics(long Count, double Min, double Max, double Mean, double StdDev);

/// <summary>Class counts per split (classification) or the label's spread per split (regression).</summary>
public sealed record LabelBalance(IReadOnlyList<ClassCount>? Classes, LabelStatistics? Train, LabelStatistics? Test);

/// <summary>
/// One class on the test rows. A class the model never predicts has precision 0 (not undefined) and, with support,
/// recall 0: the sign that the macro figures are lower than the micro ones.
/// </summary>
public sealed record ClassMetrics(string Class, double Precision, double Recall, double F1, long Support, long Predicted);

/// <summary>Test rows by actual class (rows) and predicted class (columns), both in the order of <see cref="Classes"/>.</summary>
public sealed record ConfusionMatrix(IReadOnlyList<string> Classes, IReadOnlyList<IReadOnlyList<long>> Counts);

/// <summary>
/// Classification on the test rows: micro accuracy (share of rows right), macro accuracy (mean per-class recall),
/// macro F1, log-loss where the trainer gives probabilities, the per-class figures and the confusion matrix.
/// </summary>
public sealed record ClassificationReport(
    double MicroAccuracy,
    double MacroAccuracy,
    double MacroF1,
    double? LogLoss,
    IReadOnlyList<ClassMetrics> PerClass,
    ConfusionMatrix ConfusionMatrix,
    IReadOnlyList<string> NeverPredicted);

/// <summary>
/// Binary classification on the test rows. <see cref="Threshold"/> is the cut the saved model applies to
/// <see cref="ThresholdOn"/> (<c>probability</c> for calibrated trainers, <c>score</c> otherwise) to predict true.
/// </summary>
public sealed record BinaryReport(double? Auc, double? PrAuc, double? F1, double Accuracy, double Threshold, string ThresholdOn);

/// <summary>Residuals (actual − predicted) of the test rows: mean, spread and percentiles.</summary>
public sealed record ResidualSpread(
    double Mean,
    double StdDev,
    double P5,
    double P25,
    double P50,
    double P75,
    double P95,
    double MaxAbsolute);

public sealed record RegressionReport(double RSquared, double Rmse, double Mae, ResidualSpread Residuals);

/// <summary>How much <see cref="FeatureImportanceReport.Metric"/> drops when the column's values are shuffled across rows.</summary>
public sealed record FeatureImportance(string Column, double Importance, double StdDev);

/// <summary>
/// Permutation importance per raw column on at most <see cref="Rows"/> test rows, <see cref="Repeats"/> shuffles
/// each; <see cref="Baseline"/> is the metric on those rows unshuffled. Most important first.
/// </summary>
public sealed record FeatureImportanceReport(
    string Metric,
    int Rows,
    int Repeats,
    double Baseline,
    IReadOnlyList<FeatureImportance> Features);

/// <summary>
/// What a training run did and how well the result does, kept with the version it registered (docs/model.md,
/// "The training report"). <see cref="Hyperparameters"/> are the trainer's options as it ran (null: chosen by the
/// trainer itself); <see cref="PhaseSeconds"/> times reading, fitting, evaluating, importance and saving.
/// <see cref="ClassWeighting"/> says whether examples were weighted by inverse class frequency, and
/// <see cref="Leaderboard"/> holds every candidate of a <c>trainer: "auto"</c> search, best first (null otherwise).
/// </summary>
public sealed record TrainingReport(
    ModelTask Task,
    string Trainer,
    IReadOnlyDictionary<string, string?> Hyperparameters,
    int Seed,
    double? TestFraction,
    TrainingRowCounts Rows,
    IReadOnlyList<ReportColumn> Columns,
    LabelBalance Balance,
    IReadOnlyDictionary<string, double> Metrics,
    ClassificationReport? Classification,
    BinaryReport? Binary,
    RegressionReport? Regression,
    FeatureImportanceReport? Importance,
    IReadOnlyDictionary<string, double> PhaseSeconds,
    double TotalSeconds,
    bool ClassWeighting = false,
    IReadOnlyList<CandidateScore>? Leaderboard = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] EnsembleComparison? Ensemble = null);

/// <summary>
/// One problem of a training read that failed: the row's position in the streamed rows (from 0), the column (null
/// when the row itself is malformed) and the reason. <see cref="Source"/> is <c>rows</c> or <c>testRows</c>.
/// </summary>
public sealed record TrainingRowProblem(string Source, long Row, string? Column, string Reason)
{
    /// <summary>At most this many problems are collected before a failing read stops.</summary>
    public const int MaxListed = 20;

    /// <summary>The key of <see cref="Exception.Data"/> under which a failed read's ModuleException carries its problems.</summary>
    public const string ExceptionDataKey = "trainingRowProblems";

    /// <summary>The problems a training failure carries, or none.</summary>
    public static IReadOnlyList<TrainingRowProblem> Of(Exception exception) =>
        exception?.Data[ExceptionDataKey] as IReadOnlyList<TrainingRowProblem> ?? [];
}
