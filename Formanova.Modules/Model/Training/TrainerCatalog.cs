using Formanova.Modules.Shared.Errors;
using Microsoft.ML;
using Microsoft.ML.Trainers;
using Microsoft.ML.Trainers.FastTree;
using Microsoft.ML.Trainers.LightGbm;

namespace Formanova.Modules.Model.Training;

/// <summary>
/// A trainer by its canonical name; linear ones want normalised features and a cached, re-readable input.
/// <see cref="Options"/> is the ML.NET options class its hyperparameters are fields of; <see cref="Settings"/> are applied
/// when the estimator is created.
/// </summary>
internal sealed record TrainerSpec(
    string Name,
    ModelTask Task,
    bool IsLinear,
    Type Options,
    Func<MLContext, TrainerSettings, IEstimator<ITransformer>> Build)
{
    public TrainerSettings Settings { get; init; } = TrainerSettings.Default;

    // Linear trainers stay single-threaded whatever the settings say: that is what makes them repeatable.
    public IEstimator<ITransformer> Create(MLContext ml) => Build(ml, IsLinear ? Settings with { Threads = 1 } : Settings);

    /// <summary>This trainer with <paramref name="settings"/>; a hyperparameter that is not a numeric option is Invalid.</summary>
    public TrainerSpec With(TrainerSettings settings)
    {
        foreach (var name in settings.Hyperparameters.Keys.Where(n => n.Length == 0 || !TrainerSettings.IsNumericOption(Options, n)))
        {
            throw ModuleException.Invalid($"hyperparameters.{name}", $"'{name}' is not a numeric option of {Name}.");
        }

        return this with { Settings = settings };
    }
}

/// <summary>
/// The trainers a caller may name, per task, with the task's default. Linear trainers run single-threaded:
/// SDCA and L-BFGS are otherwise not repeatable for a given seed.
/// </summary>
internal static class TrainerCatalog
{
    private static readonly TrainerSpec[] All =
    [
        new("FastTree", ModelTask.BinaryClassification, false, typeof(FastTreeBinaryTrainer.Options),
            (ml, s) => ml.BinaryClassification.Trainers.FastTree(s.Apply(new FastTreeBinaryTrainer.Options()))),
        new("LightGbm", ModelTask.BinaryClassification, false, typeof(LightGbmBinaryTrainer.Options),
            (ml, s) => ml.BinaryClassification.Trainers.LightGbm(s.Apply(new LightGbmBinaryTrainer.Options()))),
        new("FastForest", ModelTask.BinaryClassification, false, typeof(FastForestBinaryTrainer.Options),
            (ml, s) => ml.BinaryClassification.Trainers.FastForest(s.Apply(new FastForestBinaryTrainer.Options()))),
        new("SdcaLogisticRegression", ModelTask.BinaryClassification, true, typeof(SdcaLogisticRegressionBinaryTrainer.Options),
            (ml, s) => ml.BinaryClassification.Trainers.SdcaLogisticRegression(
                s.Apply(new SdcaLogisticRegressionBinaryTrainer.Options()))),
        new("LbfgsLogisticRegression", ModelTask.BinaryClassification, true, typeof(LbfgsLogisticRegressionBinaryTrainer.Options),
            (ml, s) => ml.BinaryClassification.Trainers.LbfgsLogisticRegression(
                s.Apply(new LbfgsLogisticRegressionBinaryTrainer.Options()))),

        new("SdcaMaximumEntropy", ModelTask.MulticlassClassification, true, typeof(SdcaMaximumEntropyMulticlassTrainer.Options),
            (ml, s) => ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(
                s.Apply(new SdcaMaximumEntropyMulticlassTrainer.Options()))),
        new("LbfgsMaximumEntropy", ModelTask.MulticlassClassification, true, typeof(LbfgsMaximumEntropyMulticlassTrainer.Options),
            (ml, s) => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(
                s.Apply(new LbfgsMaximumEntropyMulticlassTrainer.Options()))),
        new("LightGbm", ModelTask.MulticlassClassification, false, typeof(LightGbmMulticlassTrainer.Options),
            (ml, s) => ml.MulticlassClassification.Trainers.LightGbm(s.Apply(new LightGbmMulticlassTrainer.Options()))),
        new("FastTree", ModelTask.MulticlassClassification, false, typeof(FastTreeBinaryTrainer.Options),
            (ml, s) => ml.MulticlassClassification.Trainers.OneVersusAll(
                ml.BinaryClassification.Trainers.FastTree(s.Apply(new FastTreeBinaryTrainer.Options())))),
        new("FastForest", ModelTask.MulticlassClassification, false, typeof(FastForestBinaryTrainer.Options),
            (ml, s) => ml.MulticlassClassification.Trainers.OneVersusAll(
                ml.BinaryClassification.Trainers.FastForest(s.Apply(new FastForestBinaryTrainer.Options())))),

        new("FastTree", ModelTask.Regression, false, typeof(FastTreeRegressionTrainer.Options),
            (ml, s) => ml.Regression.Trainers.FastTree(s.Apply(new FastTreeRegressionTrainer.Options()))),
        new("LightGbm", ModelTask.Regression, false, typeof(LightGbmRegressionTrainer.Options),
            (ml, s) => ml.Regression.Trainers.LightGbm(s.Apply(new LightGbmRegressionTrainer.Options()))),
        new("FastForest", ModelTask.Regression, false, typeof(FastForestRegressionTrainer.Options),
            (ml, s) => ml.Regression.Trainers.FastForest(s.Apply(new FastForestRegressionTrainer.Options()))),
        new("Sdca", ModelTask.Regression, true, typeof(SdcaRegressionTrainer.Options),
            (ml, s) => ml.Regression.Trainers.Sdca(s.Apply(new SdcaRegressionTrainer.Options()))),
        new("LbfgsPoissonRegression", ModelTask.Regression, true, typeof(LbfgsPoissonRegressionTrainer.Options),
            (ml, s) => ml.Regression.Trainers.LbfgsPoissonRegression(s.Apply(new LbfgsPoissonRegressionTrainer.Options()))),
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
