using Formanova.Host.Workflows.Common;
using Formanova.Host.Workflows.Experiments.Statistics;

namespace Formanova.Host.Workflows.Experiments;

/// <summary>
/// Runs experiment <see cref="Name"/> (stored by the Model module) until it is decided, rolled back or stopped.
/// <see cref="Carry"/> is what a continued run takes over from the run before it; null on the first.
/// </summary>
public sealed record ExperimentInput(string Name, StepPolicy Policy, ExperimentCarry? Carry = null);

/// <summary>
/// The state a run hands to its continuation (continue-as-new): the looks so far, each candidate's running p-value,
/// the latest looks, whether it is paused and the canary step reached.
/// </summary>
public sealed record ExperimentCarry(
    int Looks,
    Dictionary<string, double> PValues,
    List<ExperimentLook> History,
    bool Paused,
    int CanaryStep);

/// <summary>
/// An arm at one look: its version and weight, its traffic and the guards' inputs, and the decision metric as shown
/// (accuracy, AUC, log-loss, RMSE, MAE; null without feedback) with a 95 % fixed-horizon interval
/// [<see cref="Lower"/>, <see cref="Upper"/>] that describes the arm (the decision uses the sequential test).
/// </summary>
public sealed record ArmLook(
    string Name,
    string Version,
    bool Control,
    double Weight,
    long Count,
    long WithFeedback,
    double ErrorRate,
    double FallbackRate,
    double? P95LatencyMs,
    double? Metric,
    double? Lower,
    double? Upper);

/// <summary>A candidate against the control at a look; <see cref="Comparison"/> is null while either arm is too small.</summary>
public sealed record CandidateLook(string Arm, Comparison? Comparison);

/// <summary>What a look concludes.</summary>
public enum LookVerdict
{
    /// <summary>Not yet: too few samples, or no significant difference.</summary>
    Continue,

    /// <summary>A candidate significantly beats the control (the best such when several do).</summary>
    CandidateWins,

    /// <summary>Every candidate is significantly worse than the control.</summary>
    ControlWins,

    /// <summary>A candidate broke a guard.</summary>
    GuardBreached,
}

/// <summary>
/// One look at an experiment: when, over which window start, each arm, each candidate's comparison (at α divided
/// among the candidates), and the verdict with the arm it names (the winner, or the candidate that broke a guard)
/// and why. <see cref="Status"/> is the experiment's stored status (the workflow stops if it has ended elsewhere).
/// </summary>
public sealed record ExperimentLook(
    DateTimeOffset At,
    DateTimeOffset Since,
    string Status,
    double Alpha,
    List<ArmLook> Arms,
    List<CandidateLook> Candidates,
    LookVerdict Verdict,
    string? Arm,
    string? Reason);

/// <summary>The input of evaluate_experiment: the experiment and the running p-values so far, by candidate.</summary>
public sealed record EvaluateInput(string Name, Dictionary<string, double> PValues);

/// <summary>An experiment as the workflow needs it, read once at the start of each run.</summary>
public sealed record ExperimentPlan(
    string Name,
    string Model,
    string Mode,
    string Control,
    List<string> Candidates,
    Dictionary<string, string> Versions,
    TimeSpan EvaluationInterval,
    TimeSpan? MaxDuration,
    List<double> CanarySteps,
    TimeSpan? CanaryStepInterval,
    bool AutoPromote,
    string Status,
    DateTimeOffset CreatedAt);

/// <summary>set_experiment_status: move the stored experiment to <see cref="Status"/> (a <c>ExperimentStatus</c> name).</summary>
public sealed record StatusChange(string Name, string Status, string? Winner, string? Reason);

/// <summary>An experiment event: EXPERIMENT_STARTED, _DECIDED, _ROLLED_BACK or _STOPPED, with the winner and why.</summary>
public sealed record ExperimentEvent(string Type, string Experiment, string Model, string? Winner, string? Reason);

/// <summary>
/// The status query: where the run is (<c>running</c>, <c>paused</c>, <c>promoting</c>, <c>decided</c>,
/// <c>rolledBack</c>, <c>stopped</c>), the looks taken, the last one, the latest <see cref="ExperimentWorkflow.HistoryCap"/>
/// looks (newest last), the running p-values, the winner and reason once ended, the canary step reached, the
/// promotion saga's outcome, and the last signal the store refused (e.g. weights naming no arm).
/// </summary>
public sealed record ExperimentState(
    string Name,
    string State,
    int Looks,
    ExperimentLook? Last,
    List<ExperimentLook> History,
    Dictionary<string, double> PValues,
    string? Winner,
    string? Reason,
    int CanaryStep,
    string? Promotion,
    string? LastSignalError);
