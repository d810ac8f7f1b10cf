using Formanova.Modules.Shared.Errors;
using Microsoft.ML;
using Microsoft.ML.Trainers;

namespace Formanova.Modules.Model.Training;

/// <summary>A trainer by its canonical name; linear ones want normalised features and a cached, re-readable input.</summary>
internal sealed record TrainerSpec(string Name, ModelTask Task, bool IsLinear, Func<MLContext, IEstimator<ITransformer>> Create);

/// <summary>
/// The trainers a caller may name, per task, with the task's default. Linear trainers run single-threaded:
/// SDCA and L-BFGS are otherwise not repeatable for a given seed.
/// </summary>
internal static class TrainerCatalog
{
    private static readonly TrainerSpec[] All =
    [
        new("FastTree", ModelTask.BinaryClassification, false, ml => ml.BinaryClassification.Trainers.FastTree()),
        new("LightGbm", ModelTask.BinaryClassification, false, ml => ml.BinaryClassification.Trainers.LightGbm()),
        new("FastForest", ModelTask.BinaryClassification, false, ml => ml.BinaryClassification.Trainers.FastForest()),
        new("SdcaLogisticRegression", ModelTask.BinaryClassification, true, ml => ml.BinaryClassification.Trainers.SdcaLogisticRegression(
            new SdcaLogisticRegressionBinaryTrainer.Options { NumberOfThreads = 1 })),
        new("LbfgsLogisticRegression", ModelTask.BinaryClassification, true, ml => ml.BinaryClassification.Trainers.LbfgsLogisticRegression(
            new LbfgsLogisticRegressionBinaryTrainer.Options { NumberOfThreads = 1 })),

        new("SdcaMaximumEntropy", ModelTask.MulticlassClassification, true, ml => ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(
            new SdcaMaximumEntropyMulticlassTrainer.Options { NumberOfThreads = 1 })),
        new("LbfgsMaximumEntropy", ModelTask.MulticlassClassification, true, ml => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(
            new LbfgsMaximumEntropyMulticlassTrainer.Options { NumberOfThreads = 1 })),
        new("LightGbm", ModelTask.MulticlassClassification, false, ml => ml.MulticlassClassification.Trainers.LightGbm()),
        new(
            "FastTree",
            ModelTask.MulticlassClassification,
            false,
            ml => ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree())),
        new(
            "FastForest",
            ModelTask.MulticlassClassification,
            false,
            ml => ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastForest())),

        new("FastTree", ModelTask.Regression, false, ml => ml.Regression.Trainers.FastTree()),
        new("LightGbm", ModelTask.Regression, false, ml => ml.Regression.Trainers.LightGbm()),
        new("FastForest", ModelTask.Regression, false, ml => ml.Regression.Trainers.FastForest()),
        new(
            "Sdca",
            ModelTask.Regression,
            true,
            ml => ml.Regression.Trainers.Sdca(new SdcaRegressionTrainer.Options { NumberOfThreads = 1 })),
        new("LbfgsPoissonRegression", ModelTask.Regression, true, ml => ml.Regression.Trainers.LbfgsPoissonRegression(
            new LbfgsPoissonRegressionTrainer.Options { NumberOfThreads = 1 })),
    ];

    private static readonly Dictionary<ModelTask, string> Defaults = new()
    {
        [ModelTask.BinaryClassification] = "FastTree",
        [ModelTask.MulticlassClassification] = "SdcaMaximumEntropy",
        [ModelTask.Regression] = "FastTree",
    };

    /// <summary>Short names that mean the task's member of a family ("sdca" is SdcaLogisticRegression for binary, and so on).</summary>
    private static readonly Dictionary<string, string[]> Families = new(StringComparer.OrdinalIgnoreCase)
    {
        ["sdca"] = ["SdcaLogisticRegression", "SdcaMaximumEntropy", "Sdca"],
        ["lbfgs"] = ["LbfgsLogisticRegression", "LbfgsMaximumEntropy", "LbfgsPoissonRegression"],
    };

    public static IEnumerable<string> NamesFor(ModelTask task) => All.Where(t => t.Task == task).Select(t => t.Name);

    public static TrainerSpec Resolve(ModelTask task, string? name)
    {
        var wanted = string.IsNullOrWhiteSpace(name) ? Defaults[task] : name.Trim();
        var candidates = Families.TryGetValue(wanted, out var family) ? family : [wanted];
        return All.FirstOrDefault(t => t.Task == task && candidates.Contains(t.Name, StringComparer.OrdinalIgnoreCase))
            ?? throw ModuleException.Invalid(
                "trainer",
                $"'{name}' is not a {task} trainer; use one of: {string.Join(", ", NamesFor(task))}.");
    }
}
