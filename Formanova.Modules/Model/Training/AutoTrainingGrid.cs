using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Model.Training;

/// <summary>
/// What <c>trainer: "auto"</c> tries per task: every trainer of the task with one or two settings each (around ten
/// fits, small enough for two cores within the default time budget), and the metrics a search may rank by.
/// </summary>
internal static class AutoTrainingGrid
{
    private static readonly SelectionMetric[] BinaryMetrics =
    [
        new("auc", true, false), new("accuracy", true, false), new("f1", true, false), new("logLoss", false, false),
    ];

    private static readonly SelectionMetric[] MulticlassMetrics =
    [
        new("macroF1", true, true), new("macroAccuracy", true, true), new("microAccuracy", true, false), new("logLoss", false, false),
    ];

    private static readonly SelectionMetric[] RegressionMetrics =
    [
        new("rmse", false, false), new("mae", false, false), new("r2", true, false),
    ];

    private static readonly TrainingCandidate[] Trees =
    [
        Candidate("FastTree", ("numberOfLeaves", 20), ("numberOfTrees", 100)),
        Candidate("FastTree", ("numberOfLeaves", 50), ("numberOfTrees", 200), ("learningRate", 0.1)),
        Candidate("LightGbm", ("numberOfLeaves", 31), ("numberOfIterations", 100)),
        Candidate("LightGbm", ("numberOfLeaves", 15), ("numberOfIterations", 200), ("learningRate", 0.05)),
        Candidate("FastForest", ("numberOfLeaves", 20), ("numberOfTrees", 100)),
    ];

    public static AutoTrainingPlan Plan(ModelTask task, string? selectionMetric)
    {
        var metric = Metric(task, selectionMetric);
        TrainingCandidate[] linear = task switch
        {
            ModelTask.BinaryClassification => Linear("SdcaLogisticRegression", "LbfgsLogisticRegression"),
            ModelTask.MulticlassClassification => Linear("SdcaMaximumEntropy", "LbfgsMaximumEntropy"),
            _ => Linear("Sdca", "LbfgsPoissonRegression"),
        };
        return new AutoTrainingPlan(task, metric, [.. Trees, .. linear]);
    }

    /// <summary>The named metric of the task, or its default: AUC (binary), macro F1 (multiclass), RMSE (regression).</summary>
    public static SelectionMetric Metric(ModelTask task, string? name)
    {
        var metrics = task switch
        {
            ModelTask.BinaryClassification => BinaryMetrics,
            ModelTask.MulticlassClassification => MulticlassMetrics,
            _ => RegressionMetrics,
        };
        if (string.IsNullOrWhiteSpace(name))
        {
            return metrics[0];
        }

        return metrics.FirstOrDefault(m => string.Equals(m.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw ModuleException.Invalid(
                "selectionMetric",
                $"'{name}' is not a {task} metric; use one of: {string.Join(", ", metrics.Select(m => m.Name))}.");
    }

    private static TrainingCandidate[] Linear(string sdca, string lbfgs) =>
    [
        Candidate(sdca, ("l2Regularization", 0.001)),
        Candidate(sdca, ("l2Regularization", 0.1)),
        Candidate(lbfgs, ("l2Regularization", 0.01)),
        Candidate(lbfgs, ("l2Regularization", 1)),
    ];

    private static TrainingCandidate Candidate(string trainer, params (string Name, double Value)[] settings) =>
        new(trainer, settings.ToDictionary(s => s.Name, s => s.Value));
}
