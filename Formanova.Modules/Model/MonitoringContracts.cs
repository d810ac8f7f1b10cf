namespace Formanova.Modules.Model;

/// <summary>
/// A numeric column's spread: <see cref="Edges"/> are the interior cut points (ascending, at most
/// <see cref="ReferenceProfile.MaxBins"/> − 1), so bin <c>i</c> holds values in (edges[i−1], edges[i]] and there are
/// <c>Edges.Count + 1</c> bins, counted in <see cref="Counts"/>. <see cref="Nulls"/> counts missing values, which no
/// bin holds.
/// </summary>
public sealed record NumericProfile(IReadOnlyList<double> Edges, IReadOnlyList<long> Counts, double Min, double Max, long Nulls)
{
    /// <summary>The bin <paramref name="value"/> falls in: the first edge at or above it (a binary search, no allocation).</summary>
    public static int BinOf(IReadOnlyList<double> edges, double value) => edges switch
    {
        double[] array => BinOf(array.AsSpan(), value),
        List<double> list => BinOf(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list), value),
        _ => BinOf([.. edges ?? throw new ArgumentNullException(nameof(edges))], value),
    };

    /// <summary>The bin <paramref name="value"/> falls in among <paramref name="edges"/>.</summary>
    public static int BinOf(ReadOnlySpan<double> edges, double value)
    {
        int low = 0, high = edges.Length;
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            if (edges[middle] < value)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }
}

/// <summary>
/// A categorical column's most frequent values (at most <see cref="ReferenceProfile.MaxCategories"/>, most frequent
/// first) with their counts; <see cref="Other"/> counts every other value and <see cref="Nulls"/> the empty ones.
/// </summary>
public sealed record CategoricalProfile(IReadOnlyList<string> Categories, IReadOnlyList<long> Counts, long Other, long Nulls);

/// <summary>One column's profile: exactly one of <see cref="Numeric"/> and <see cref="Categorical"/> is set.</summary>
public sealed record ColumnProfile(string Name, ColumnKind Kind, long Count, NumericProfile? Numeric, CategoricalProfile? Categorical)
{
    /// <summary>The share of missing values.</summary>
    public double NullRate => Count == 0 ? 0 : (double)(Numeric?.Nulls ?? Categorical?.Nulls ?? 0) / Count;
}

/// <summary>
/// What a version was trained on, compactly (docs/monitoring.md): each numeric or boolean feature in quantile bins, each
/// categorical one by its top values (free text is not profiled), the label over the training rows and the model's
/// predictions over the test rows. Its size is bounded by the feature count alone: at most <see cref="MaxBins"/>
/// bins or <see cref="MaxCategories"/> categories (+ other) per column, whatever the row count.
/// </summary>
public sealed record ReferenceProfile(
    long Rows,
    IReadOnlyList<ColumnProfile> Features,
    ColumnProfile Label,
    ColumnProfile Predictions)
{
    /// <summary>Quantile bins per numeric column.</summary>
    public const int MaxBins = 10;

    /// <summary>Named categories per categorical column; the rest count as other.</summary>
    public const int MaxCategories = 20;

    /// <summary>The values sampled per numeric column to place the bin edges.</summary>
    public const int ReservoirSize = 4096;

    /// <summary>Distinct values counted per categorical column before new ones go to other.</summary>
    public const int MaxDistinctCounted = 4096;
}

/// <summary>
/// Live counts of one column over a window, in its reference profile's terms: <see cref="Counts"/> per reference bin
/// (numeric) or named category (categorical); <see cref="Other"/> the categorical values the reference does not name;
/// <see cref="Nulls"/> the missing ones; <see cref="OutOfRange"/> the numeric values below the reference's min or above
/// its max (also counted in the edge bins).
/// </summary>
public sealed record LiveCounts(string Name, IReadOnlyList<long> Counts, long Other, long Nulls, long OutOfRange);

/// <summary>One instance's sampled traffic of one version over [<see cref="Start"/>, <see cref="End"/>).</summary>
public sealed record LiveWindow(
    string Model,
    string Version,
    DateTimeOffset Start,
    DateTimeOffset End,
    long Rows,
    IReadOnlyList<LiveCounts> Features,
    LiveCounts Predictions);

/// <summary>What a monitoring check does once a threshold is crossed.</summary>
public enum MonitoringRollout
{
    /// <summary>Notify only (and retrain, if asked, leaving the new version registered).</summary>
    None,

    /// <summary>Retrain and leave the new version registered; the event says approval is needed.</summary>
    Approval,

    /// <summary>Retrain and promote the new version through the promotion saga.</summary>
    Promote,

    /// <summary>
    /// Retrain and start an experiment (or canary) of the new version against the version active before, as
    /// <see cref="MonitoringActions.Experiment"/> says.
    /// </summary>
    Experiment,
}

/// <summary>
/// The experiment a <see cref="MonitoringRollout.Experiment"/> rollout starts: the fields of
/// <see cref="CreateExperimentRequest"/> a policy sets, with its defaults (docs/experiments.md), checked the same way.
/// The control is the version active before the retraining, the candidate the new version, taking
/// <see cref="CandidateWeight"/> of the traffic (a canary follows <see cref="Canary"/> instead). A null
/// <see cref="PrimaryMetric"/> is accuracy for a classifier and RMSE for a regression.
/// </summary>
public sealed record MonitoringExperiment(
    ExperimentMode Mode = CreateExperimentRequest.DefaultMode,
    double CandidateWeight = 0.5,
    ExperimentMetric? PrimaryMetric = null,
    ExperimentAssignment Assignment = CreateExperimentRequest.DefaultAssignment,
    ExperimentGuards? Guards = null,
    long MinSamplesPerArm = CreateExperimentRequest.DefaultMinSamplesPerArm,
    double Alpha = CreateExperimentRequest.DefaultAlpha,
    TimeSpan? EvaluationInterval = null,
    TimeSpan? MaxDuration = null,
    CanaryPlan? Canary = null,
    bool AutoPromote = CreateExperimentRequest.DefaultAutoPromote)
{
    /// <summary>The experiment of <paramref name="model"/>: <paramref name="control"/> against <paramref name="candidate"/>.</summary>
    public CreateExperimentRequest ToRequest(string name, string model, string control, string candidate, ModelTask task) => new(
        name,
        model,
        [
            new ExperimentArmSpec("control", control, Weight: Mode == ExperimentMode.Shadow ? 1 : 1 - CandidateWeight),
            new ExperimentArmSpec("candidate", candidate, Weight: CandidateWeight),
        ],
        Mode,
        Assignment,
        PrimaryMetric ?? (task == ModelTask.Regression ? ExperimentMetric.Rmse : ExperimentMetric.Accuracy),
        Guards,
        MinSamplesPerArm,
        Alpha,
        EvaluationInterval,
        MaxDuration,
        Canary,
        AutoPromote);
}

/// <summary>
/// When a check counts as a breach. <see cref="FeatureDrift"/> and <see cref="PredictionDrift"/> are PSI values (0.1
/// is a moderate shift, 0.25 a significant one); the rates are shares of the window's rows; <see cref="MaxPerformanceDrop"/>
/// is how much worse than at training the live metric may be, as a fraction of the training value. Fewer than
/// <see cref="MinRows"/> sampled rows give no verdict.
/// </summary>
public sealed record MonitoringThresholds(
    double FeatureDrift = 0.25,
    double PredictionDrift = 0.25,
    double MaxNullRateIncrease = 0.1,
    double MaxOutOfRangeRate = 0.1,
    double MaxUnseenRate = 0.1,
    double MaxPerformanceDrop = 0.1,
    long MinRows = 200,
    long MinFeedback = 50);

/// <summary>
/// What a breach does: <see cref="Notify"/> emits the events; <see cref="Retrain"/> trains a new version on the dataset's
/// latest version with the breached version's settings (or <see cref="Trainer"/>, e.g. <c>auto</c>), then rolls it out
/// by <see cref="Rollout"/> (an experiment rollout as <see cref="Experiment"/> says, its defaults when null).
/// <see cref="CooldownMinutes"/> is the least time between two retrainings.
/// </summary>
public sealed record MonitoringActions(
    bool Notify = true,
    bool Retrain = false,
    string? Trainer = null,
    MonitoringRollout Rollout = MonitoringRollout.None,
    double CooldownMinutes = 1440,
    MonitoringExperiment? Experiment = null);

/// <summary>
/// A model's monitoring policy: checks every <see cref="IntervalMinutes"/> over the last <see cref="WindowMinutes"/> of
/// traffic of the active version. <see cref="LastRetrainAt"/> is kept by the checks (the cooldown's start).
/// </summary>
public sealed record MonitoringPolicy(
    string Model,
    bool Enabled,
    double IntervalMinutes,
    double WindowMinutes,
    MonitoringThresholds Thresholds,
    MonitoringActions Actions,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? LastRetrainAt = null);

/// <summary>
/// One feature in a check: the PSI of its live distribution against the reference (<see cref="Band"/>
/// <c>stable</c> below 0.1, <c>moderate</c> below 0.25, <c>significant</c> above), and its data quality.
/// </summary>
public sealed record FeatureDrift(
    string Feature,
    double Psi,
    string Band,
    long Rows,
    double NullRate,
    double ReferenceNullRate,
    double OutOfRangeRate,
    double UnseenRate,
    bool Drifted,
    IReadOnlyList<string> Breaches);

/// <summary>The live metric from feedback against the training report's (<see cref="Drop"/>: relative, worse is positive).</summary>
public sealed record PerformanceCheck(string Metric, double Training, double? Live, long WithFeedback, double? Drop, bool Degraded);

/// <summary>
/// One check of a model over [<see cref="From"/>, <see cref="Until"/>). <see cref="Status"/> is <c>ok</c>,
/// <c>drift</c>, <c>degraded</c> (performance), <c>insufficientData</c>, <c>noProfile</c> (a version trained before
/// profiles) or <c>noActiveVersion</c>; <see cref="Breaches"/> says which thresholds were crossed, and
/// <see cref="Actions"/> what the policy did about them.
/// </summary>
public sealed record MonitoringCheck(
    string Model,
    string? Version,
    DateTimeOffset CheckedAt,
    DateTimeOffset From,
    DateTimeOffset Until,
    string Status,
    long Rows,
    IReadOnlyList<FeatureDrift> Features,
    double? PredictionDrift,
    PerformanceCheck? Performance,
    IReadOnlyList<string> Breaches,
    IReadOnlyList<string> Actions,
    string? Note = null);
