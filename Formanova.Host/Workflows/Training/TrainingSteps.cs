using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Training;

/// <summary>
/// The activity calls of <see cref="ModelTrainingWorkflow"/>, each with its step policy. Called from workflow code
/// only, so they are as deterministic as the workflow itself.
/// </summary>
internal static class TrainingSteps
{
    public static Task<PreparedTraining> PrepareAsync(TrainingRunInput run) => Workflow.ExecuteActivityAsync(
        (TrainingActivities a) => a.PrepareTrainingDataAsync(run),
        run.Policy.For(t => t.TrainPrepare, heartbeat: run.Policy.Timeout(t => t.TrainHeartbeat)));

    public static Task<TrainedVersion> TrainAsync(TrainingRunInput run, PreparedTraining prepared, AutoTrainingSummary? auto) =>
        Workflow.ExecuteActivityAsync(
        (TrainingActivities a) => a.TrainModelAsync(new TrainInput(run, prepared, auto)),
        run.Policy.For(t => t.Train, maximumAttempts: run.TrainMaximumAttempts, heartbeat: run.Policy.Timeout(t => t.TrainHeartbeat)));

    public static Task<ModelValidationResult> ValidateAsync(TrainingRunInput run, TrainedVersion trained)
    {
        var input = new ValidateModelInput(trained.Metrics, run.MinMetrics, run.MaxMetrics);
        return Workflow.ExecuteActivityAsync(() => TrainingActivities.ValidateModel(input), run.Policy.For(t => t.Validate));
    }

    public static Task<long> RegisterAsync(TrainingRunInput run, TrainedVersion trained) => Workflow.ExecuteActivityAsync(
        (TrainingActivities a) => a.RegisterModelAsync(trained),
        run.Policy.For(t => t.Emit));

    public static Task<string> ActivateAsync(TrainingRunInput run) => Workflow.ExecuteActivityAsync(
        (TrainingActivities a) => a.ActivateModelAsync(run.Model, run.Version),
        run.Policy.For(t => t.Persist));

    public static Task<string> ArchiveAsync(TrainingRunInput run) => Workflow.ExecuteActivityAsync(
        (TrainingActivities a) => a.ArchiveModelAsync(run.Model, run.Version),
        run.Policy.For(t => t.Persist));
}
