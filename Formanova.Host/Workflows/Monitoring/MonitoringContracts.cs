using Formanova.Host.Workflows.Common;
using Formanova.Host.Workflows.Training;
using Formanova.Modules.Model;

namespace Formanova.Host.Workflows.Monitoring;

/// <summary>One monitoring run of <see cref="Model"/> under its stored policy (docs/monitoring.md).</summary>
public sealed record MonitoringRunInput(string Model, StepPolicy Policy);

/// <summary>
/// What the check step found and what the policy makes of it: the events to emit (none when nothing was crossed or
/// the policy does not notify), and the training run to start (null: no retraining, <see cref="Note"/> says why);
/// <see cref="Experiment"/> is the policy's experiment settings for an experiment rollout.
/// </summary>
public sealed record MonitoringDecision(
    MonitoringCheck Check,
    List<string> Events,
    TrainingRunInput? Retrain,
    MonitoringRollout Rollout,
    string? Note,
    MonitoringExperiment? Experiment = null);

/// <summary>create_rollout_experiment: experiment <see cref="Name"/> of <see cref="Control"/> against <see cref="Candidate"/>.</summary>
public sealed record RolloutExperimentInput(
    string Model,
    string Name,
    string Control,
    string Candidate,
    MonitoringExperiment Settings);

/// <summary>
/// The rollout experiment: <see cref="Created"/> when it is stored and running (its workflow still to start), else
/// <see cref="Note"/> says why not (another experiment of the model is live, or the experiment was refused).
/// </summary>
public sealed record RolloutExperiment(string Name, bool Created, string? Note);

/// <summary>get_state: where the run is, the check once made, and the retraining and rollout it started.</summary>
public sealed record MonitoringState(
    string Stage,
    MonitoringCheck? Check,
    string? RetrainRunId,
    string? NewVersion,
    string? Rollout,
    string? Error);

/// <summary>The run's outcome: the check's status and breaches, and what the policy did.</summary>
public sealed record MonitoringRunResult(
    string Model,
    string Status,
    List<string> Breaches,
    string? RetrainedVersion,
    string? Rollout,
    string? Note);
