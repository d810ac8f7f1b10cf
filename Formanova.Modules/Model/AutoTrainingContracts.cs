namespace Formanova.Modules.Model;

/// <summary>One point of an automatic search: a trainer of the task and the hyperparameters it is built with.</summary>
public sealed record TrainingCandidate(string Trainer, IReadOnlyDictionary<string, double> Hyperparameters);

/// <summary>
/// A metric a search ranks by: its key in the evaluation metrics, whether higher is better, and whether it asks
/// for balance (a macro metric), in which case every candidate and the winner train with class weights.
/// </summary>
public sealed record SelectionMetric(string Name, bool HigherIsBetter, bool Balanced);

/// <summary>What <c>trainer: "auto"</c> tries for a task, in a fixed order (ties go to the earlier candidate).</summary>
public sealed record AutoTrainingPlan(ModelTask Task, SelectionMetric Metric, IReadOnlyList<TrainingCandidate> Candidates);

/// <summary>
/// Fit one candidate and measure it on a validation split carved from the training part of the run's seeded split
/// (<see cref="TestFraction"/> and <see cref="Seed"/> as in <see cref="TrainModelRequest"/>), so the test rows the final
/// version is evaluated on are never seen. <see cref="Threads"/> caps tree trainers' threads (null: all cores) for
/// candidates running side by side. Nothing is registered.
/// </summary>
public sealed record EvaluateCandidateRequest(
    ModelTask Task,
    IReadOnlyList<ModelColumn> Columns,
    TrainingCandidate Candidate,
    string? SelectionMetric = null,
    bool ClassWeighting = false,
    int Seed = 42,
    double TestFraction = 0.2,
    double ValidationFraction = 0.2,
    int? Threads = null);

/// <summary>
/// A candidate's metrics on the validation rows and its <see cref="Score"/> by the selection metric (null: not measured).
/// </summary>
public sealed record CandidateEvaluation(
    string Trainer,
    IReadOnlyDictionary<string, double> Hyperparameters,
    IReadOnlyDictionary<string, double> Metrics,
    double? Score,
    long TrainRows,
    long ValidationRows,
    double Seconds);

/// <summary>
/// One line of an automatic search's leaderboard. <see cref="Status"/> is completed, failed, cancelled (past the
/// time budget) or skipped (not started within it); <see cref="ClassWeighting"/> is <c>inverseFrequency</c> when the
/// metric asked for balance, else <c>none</c>.
/// </summary>
public sealed record CandidateScore(
    string Trainer,
    IReadOnlyDictionary<string, double> Hyperparameters,
    string Metric,
    double? Score,
    double Seconds,
    string Status,
    string ClassWeighting,
    string? Error = null);
