using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Model;

namespace Formanova.Host.Workflows.Training;

/// <summary>
/// One training run: a dataset (optionally transformed) trains <see cref="Model"/> <see cref="Version"/>.
/// <see cref="MinMetrics"/> and <see cref="MaxMetrics"/> are the validation thresholds (e.g. auc ≥ 0.8, rmse ≤ 10).
/// With <see cref="RequireApproval"/> the run waits for approve/reject until the deadline before activating.
/// <see cref="ExcludeColumns"/> names columns (after the transforms) the model leaves out, e.g. a date column.
/// <see cref="Trainer"/> <c>auto</c> searches trainers first (<see cref="AutoTrainingSteps"/>), ranked by
/// <see cref="SelectionMetric"/> within <see cref="TimeBudgetSeconds"/>, <see cref="AutoParallelism"/> at a time.
/// A training schedule's runs carry <see cref="ScheduledMajor"/>: the run then registers the version
/// <see cref="TrainingVersions.Scheduled"/> gives its start, instead of <see cref="Version"/>. With <see cref="Ensemble"/>
/// the run registers an ensemble of those members, evaluated on held-out rows (a stacked one's meta-learner fit on the
/// rest, <see cref="Trainer"/> naming it): the workflow's steps are the same, the train step does the rest.
/// </summary>
public sealed record TrainingRunInput(
    string Model,
    string Version,
    ModelTask Task,
    long DatasetId,
    List<TransformStep>? Transforms,
    string? Trainer,
    int Seed,
    double TestFraction,
    Dictionary<string, double> MinMetrics,
    Dictionary<string, double> MaxMetrics,
    bool Activate,
    bool RequireApproval,
    double ApprovalTimeoutSeconds,
    int TrainMaximumAttempts,
    StepPolicy Policy,
    List<string>? ExcludeColumns = null,
    string? SelectionMetric = null,
    double? TimeBudgetSeconds = null,
    int AutoParallelism = 1,
    int? ScheduledMajor = null,
    EnsembleSpec? Ensemble = null);

/// <summary>The dataset's columns as the model sees them, and what the preparation pass found.</summary>
public sealed record PreparedTraining(
    List<ModelColumn> Columns,
    int SchemaVersion,
    long Rows,
    long RowsWithoutLabel,
    List<string> SkippedColumns);

/// <summary>The train step's input; <see cref="Auto"/> is the search whose winner it trains, if the run searched.</summary>
public sealed record TrainInput(TrainingRunInput Run, PreparedTraining Prepared, AutoTrainingSummary? Auto = null);

/// <summary>Heartbeat details of the train step: how far it got.</summary>
public sealed record TrainingHeartbeat(string Stage, long RowsRead, double Fraction);

public sealed record TrainedVersion(
    string Model,
    string Version,
    string Trainer,
    Dictionary<string, double> Metrics,
    long TrainRows,
    long TestRows,
    double TrainingSeconds);

public sealed record ModelValidationResult(bool Passed, List<string> Failures);

public sealed record ValidateModelInput(
    Dictionary<string, double> Metrics,
    Dictionary<string, double> MinMetrics,
    Dictionary<string, double> MaxMetrics);

/// <summary>get_progress: the stage, an overall percentage, metrics once known and the approval state.</summary>
public sealed record TrainingProgressView(
    string Stage,
    double ProgressPercent,
    DateTime StartedAt,
    PreparedTraining? Prepared,
    TrainedVersion? Trained,
    ModelValidationResult? Validation,
    string? Approval,
    DateTime? ApprovalDeadline,
    List<ErrorRecord> Errors,
    AutoTrainingSummary? Auto = null);

public sealed record TrainingRunResult(
    string Model,
    string Version,
    string Outcome,
    Dictionary<string, double> Metrics,
    bool Activated,
    string? Approval,
    List<string> ValidationFailures,
    AutoTrainingSummary? Auto = null);

public sealed record ApprovalDecision(string? By = null, string? Comment = null);
