namespace Formanova.Modules.Model;

/// <summary>
/// How an experiment's arms share traffic (docs/experiments.md): in <see cref="Split"/> each routed request is served
/// by its arm; in <see cref="Shadow"/> the control serves every request and the other arms score copies off the
/// request path; <see cref="Canary"/> is a split whose candidate weight steps up on a schedule while the guards hold.
/// </summary>
public enum ExperimentMode
{
    Split,
    Shadow,
    Canary,
}

/// <summary>
/// How a request is assigned an arm: <see cref="Sticky"/> by a hash of the experiment and the request's entity id
/// (the same entity always lands on the same arm while the weights hold; a request without one is assigned at
/// random), or <see cref="Random"/> per request.
/// </summary>
public enum ExperimentAssignment
{
    Sticky,
    Random,
}

/// <summary>
/// Where an experiment is. <see cref="Running"/> routes traffic; <see cref="Paused"/> sends every request to the
/// control until resumed; the others are final and route nothing.
/// </summary>
public enum ExperimentStatus
{
    Running,
    Paused,
    Decided,
    RolledBack,
    Stopped,
}

/// <summary>The metric an experiment decides on, computed from feedback (docs/feedback.md).</summary>
public enum ExperimentMetric
{
    Accuracy,
    Auc,
    LogLoss,
    Rmse,
    Mae,
}

/// <summary>
/// An arm as the caller names it: <see cref="Version"/> or <see cref="Alias"/> of the experiment's model (neither: the
/// active version), resolved and pinned when the experiment is created. <see cref="Weight"/> is its share of routed
/// traffic (weights are normalised), or in shadow mode the share of requests a candidate scores a copy of.
/// </summary>
public sealed record ExperimentArmSpec(string Name, string? Version = null, string? Alias = null, double Weight = 1);

/// <summary>
/// Limits on a candidate arm, each over the same evaluation window: a breach stops the candidate (rolls back). Null
/// means not checked.
/// </summary>
public sealed record ExperimentGuards(double? MaxErrorRate = null, double? MaxP95LatencyMs = null, double? MaxFallbackRate = null);

/// <summary>
/// A canary's schedule: the candidate's share of traffic takes each of <see cref="Steps"/> (increasing fractions,
/// each in (0, 1]) in turn, one <see cref="StepInterval"/> apart, while the guards hold.
/// </summary>
public sealed record CanaryPlan(IReadOnlyList<double> Steps, TimeSpan StepInterval);

/// <summary>
/// A new experiment on <see cref="Model"/>. The first arm is the control (the incumbent); the others are candidates.
/// The experiment decides on <see cref="PrimaryMetric"/> once every arm has <see cref="MinSamplesPerArm"/>
/// predictions with feedback, at significance <see cref="Alpha"/>, looking every <see cref="EvaluationInterval"/>;
/// it stops without a winner after <see cref="MaxDuration"/>. With <see cref="AutoPromote"/> a winning candidate is
/// promoted through the promotion saga.
/// </summary>
public sealed record CreateExperimentRequest(
    string Name,
    string Model,
    IReadOnlyList<ExperimentArmSpec> Arms,
    ExperimentMode Mode = CreateExperimentRequest.DefaultMode,
    ExperimentAssignment Assignment = CreateExperimentRequest.DefaultAssignment,
    ExperimentMetric PrimaryMetric = ExperimentMetric.Accuracy,
    ExperimentGuards? Guards = null,
    long MinSamplesPerArm = CreateExperimentRequest.DefaultMinSamplesPerArm,
    double Alpha = CreateExperimentRequest.DefaultAlpha,
    TimeSpan? EvaluationInterval = null,
    TimeSpan? MaxDuration = null,
    CanaryPlan? Canary = null,
    bool AutoPromote = CreateExperimentRequest.DefaultAutoPromote)
{
    /// <summary>The most characters <see cref="Name"/> may have (the names' rule, for callers that make one up).</summary>
    public const int MaxNameLength = ModelNames.MaxLength;

    // The defaults a monitoring policy's rollout experiment (MonitoringExperiment) shares.
    public const ExperimentMode DefaultMode = ExperimentMode.Split;

    public const ExperimentAssignment DefaultAssignment = ExperimentAssignment.Sticky;

    public const long DefaultMinSamplesPerArm = 100;

    public const double DefaultAlpha = 0.05;

    public const bool DefaultAutoPromote = true;
}

/// <summary>An arm as stored: the version it is pinned to and its current weight.</summary>
public sealed record ExperimentArm(string Name, string Version, string? Alias, double Weight, bool Control);

/// <summary>
/// An experiment as stored. <see cref="Winner"/> names the winning arm of a decided experiment; <see cref="Reason"/>
/// says why it ended (or was paused).
/// </summary>
public sealed record ExperimentInfo(
    string Name,
    string Model,
    ExperimentMode Mode,
    ExperimentAssignment Assignment,
    ExperimentMetric PrimaryMetric,
    ExperimentGuards Guards,
    long MinSamplesPerArm,
    double Alpha,
    TimeSpan EvaluationInterval,
    TimeSpan? MaxDuration,
    CanaryPlan? Canary,
    bool AutoPromote,
    IReadOnlyList<ExperimentArm> Arms,
    ExperimentStatus Status,
    string? Winner,
    string? Reason,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? EndedAt);

/// <summary>
/// The Model module's experiments: the store, and the routing <see cref="IModelModule.PredictAsync"/> applies to a
/// request that names neither a version nor an alias while its model has a running experiment. Expected failures
/// throw <c>ModuleException</c> naming the field.
/// </summary>
public interface IExperimentModule
{
    /// <summary>
    /// Validates and stores a running experiment, pins its arms to versions and loads them before it returns (so the
    /// first routed request pays no load). Conflict when the name exists or the model already has a running or
    /// paused experiment.
    /// </summary>
    Task<ExperimentInfo> CreateAsync(CreateExperimentRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Checks a request's settings as <see cref="CreateAsync"/> does (mode, assignment, metric, alpha, samples,
    /// intervals, guards, canary plan) without its name, model or arms, for a caller that keeps them to create the
    /// experiment later (a monitoring policy's rollout). Invalid naming the field.
    /// </summary>
    void ValidateSettings(CreateExperimentRequest request);

    Task<ExperimentInfo> GetAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Experiments, newest first, of <paramref name="model"/> when given.</summary>
    Task<IReadOnlyList<ExperimentInfo>> ListAsync(string? model = null, CancellationToken cancellationToken = default);

    /// <summary>Sets arm weights by arm name (arms not named keep theirs). Conflict when the experiment has ended.</summary>
    Task<ExperimentInfo> SetWeightsAsync(
        string name,
        IReadOnlyDictionary<string, double> weights,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves the experiment: Running and Paused into each other, or either into a final status (with the winning arm
    /// for Decided). Conflict when it has already ended.
    /// </summary>
    Task<ExperimentInfo> SetStatusAsync(
        string name,
        ExperimentStatus status,
        string? winner = null,
        string? reason = null,
        CancellationToken cancellationToken = default);
}
