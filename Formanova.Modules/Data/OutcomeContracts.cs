namespace Formanova.Modules.Data;

/// <summary>What a logged prediction predicted, which decides how its feedback is read and scored.</summary>
public enum OutcomeTask
{
    BinaryClassification,
    MulticlassClassification,
    Regression,
}

/// <summary>
/// One prediction for the prediction log (docs/feedback.md). <see cref="ErrorKind"/> set means the model failed it
/// (<c>unavailable</c>, <c>unprocessable</c>) and the outputs are empty. <see cref="Probabilities"/> is kept for
/// classification only. <see cref="Experiment"/> and <see cref="Arm"/> name the experiment arm that served it, if
/// any. <see cref="Source"/> is <c>online</c> (the predict paths) or <c>batch</c> (a batch job's row, logged when
/// its feedback arrives). <see cref="ServedPredictionId"/> is set on a shadow arm's prediction: the served prediction
/// it scored a copy of, whose feedback scores it too (docs/experiments.md).
/// </summary>
public sealed record LoggedPrediction(
    string PredictionId,
    string Model,
    string Version,
    OutcomeTask Task,
    DateTimeOffset PredictedAt,
    string? Label,
    double? Value,
    double? Score,
    IReadOnlyDictionary<string, double>? Probabilities,
    double? LatencyMs,
    bool Cached,
    string? FallbackFrom = null,
    string? ErrorKind = null,
    string? EntityId = null,
    string? Experiment = null,
    string? Arm = null,
    string Source = "online",
    string? ServedPredictionId = null);

/// <summary>
/// The true outcome of one prediction, named by <see cref="PredictionId"/>, or by <see cref="Model"/> +
/// <see cref="EntityId"/> + <see cref="At"/> (the entity's latest logged answer at or before it). The outcome is
/// <see cref="Label"/> for classification and <see cref="Value"/> for regression; exactly one is set.
/// </summary>
public sealed record FeedbackItem(
    string? PredictionId,
    string? Model,
    string? EntityId,
    DateTimeOffset? At,
    string? Label,
    double? Value);

public enum FeedbackStatus
{
    /// <summary>Stored now.</summary>
    Recorded,

    /// <summary>The same outcome was already stored: nothing changed.</summary>
    Unchanged,

    /// <summary>No logged prediction has this id (or none of the entity at or before the time).</summary>
    Unknown,

    /// <summary>The prediction was logged but the log's retention has removed it.</summary>
    Expired,

    /// <summary>The prediction was answered but, by the log's sampling, never logged.</summary>
    NotSampled,
}

/// <summary>What happened to item <see cref="Index"/> of a feedback request, and the prediction it was matched to.</summary>
public sealed record FeedbackItemResult(int Index, FeedbackStatus Status, string? PredictionId, string? Model, string? Version);

/// <summary>A batch job's stored prediction of one row, with the job's model and version and when the row was stored.</summary>
public sealed record BatchRowPrediction(
    string JobId,
    long RowId,
    string Model,
    string Version,
    DateTimeOffset PredictedAt,
    StoredPrediction Prediction);

/// <summary>
/// Sufficient statistics of a per-prediction loss over the predictions with feedback: <see cref="N"/> values,
/// their sum and their sum of squares (a sequential test's input: mean and variance without the values).
/// </summary>
public sealed record LossStatistics(long N, double Sum, double SumOfSquares);

/// <summary>
/// Joined predictions and feedback of one version (and experiment arm, when set) over the window. Rates are over
/// <see cref="Count"/>; quality metrics over <see cref="WithFeedback"/> (null when none or not the task's).
/// <see cref="Auc"/> is computed on the newest <see cref="AucSampleRows"/> binary predictions with feedback, of which
/// <see cref="AucPositives"/> had the positive outcome and <see cref="AucNegatives"/> the negative (the counts a
/// Hanley–McNeil variance of the AUC needs).
/// The statistics are of the loss each metric averages: <see cref="Correct"/> (1 when right; accuracy is its
/// mean), <see cref="LogLossStatistics"/>, <see cref="SquaredError"/> (RMSE is the root of its mean) and
/// <see cref="AbsoluteError"/> (MAE).
/// </summary>
public sealed record OutcomeGroup(
    string Version,
    string? Experiment,
    string? Arm,
    OutcomeTask Task,
    long Count,
    long WithFeedback,
    long Failed,
    long Fallbacks,
    double ErrorRate,
    double FallbackRate,
    double? P95LatencyMs,
    double? Accuracy,
    double? LogLoss,
    double? Auc,
    double? Rmse,
    double? Mae,
    LossStatistics? Correct,
    LossStatistics? LogLossStatistics,
    LossStatistics? SquaredError,
    LossStatistics? AbsoluteError,
    long? AucSampleRows,
    long? AucPositives = null,
    long? AucNegatives = null);

/// <summary>A model's outcomes over [<see cref="Since"/>, <see cref="Until"/>), one group per version and arm.</summary>
public sealed record OutcomeSummary(string Model, DateTimeOffset Since, DateTimeOffset Until, IReadOnlyList<OutcomeGroup> Groups);
