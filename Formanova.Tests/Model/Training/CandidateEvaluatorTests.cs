using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Options;

namespace Formanova.Tests.Model.Training;

public sealed class CandidateEvaluatorTests
{
    private static readonly CandidateEvaluator Evaluator = new(Options.Create(new ModelOptions()));

    [TestCase(ModelTask.BinaryClassification, "auc")]
    [TestCase(ModelTask.MulticlassClassification, "macroF1")]
    [TestCase(ModelTask.Regression, "rmse")]
    public void Plan_WhenNoMetricIsNamed_RanksByTheTaskDefaultOverEveryTrainerOfTheTask(ModelTask task, string metric)
    {
        var plan = AutoTrainingGrid.Plan(task, null);

        Assert.Multiple(() =>
        {
            Assert.That(plan.Metric.Name, Is.EqualTo(metric));
            Assert.That(plan.Candidates.Select(c => c.Trainer).Distinct(), Is.EquivalentTo(TrainerCatalog.NamesFor(task)));
            Assert.That(plan.Candidates, Has.Count.InRange(6, 12), "small enough for two cores within the default budget");
        });
    }

    [Test]
    public void Plan_WhenTheMetricIsNotOfTheTask_ThrowsInvalidNamingSelectionMetric()
    {
        var error = Assert.Throws<ModuleException>(() => AutoTrainingGrid.Plan(ModelTask.Regression, "auc"))!;

        Assert.That(error.Errors.Keys, Is.EqualTo(new[] { "selectionMetric" }));
        Assert.That(AutoTrainingGrid.Metric(ModelTask.Regression, "R2"), Is.EqualTo(new SelectionMetric("r2", true, false)));
    }

    [Test]
    public void EvaluateAsync_WhenAHyperparameterIsNotAnOptionOfTheTrainer_ThrowsInvalidNamingIt()
    {
        var request = new EvaluateCandidateRequest(
            ModelTask.BinaryClassification,
            SampleData.Columns(ModelTask.BinaryClassification),
            new TrainingCandidate("FastTree", new Dictionary<string, double> { ["l2Regularization"] = 1 }));

        var error = Assert.ThrowsAsync<ModuleException>(() =>
            Evaluator.EvaluateAsync(request, SampleData.RowsAsync(ModelTask.BinaryClassification, 100, 1), null, CancellationToken.None))!;

        Assert.That(error.Errors.Keys, Is.EqualTo(new[] { "hyperparameters.l2Regularization" }));
    }

    [Category("Integration")]
    [TestCase(ModelTask.BinaryClassification)]
    [TestCase(ModelTask.MulticlassClassification)]
    [TestCase(ModelTask.Regression)]
    public async Task EvaluateAsync_ForEveryCandidateOfThePlan_ScoresOnAValidationSplitOfTheTrainingPartOnly(ModelTask task)
    {
        const int Rows = 500;
        var plan = AutoTrainingGrid.Plan(task, null);
        var scores = new List<string>();
        foreach (var candidate in plan.Candidates)
        {
            var request = new EvaluateCandidateRequest(task, SampleData.Columns(task), candidate, Threads: 1);

            var evaluation = await Evaluator.EvaluateAsync(request, SampleData.RowsAsync(task, Rows, 3), null, CancellationToken.None);

            scores.Add($"{candidate.Trainer} {evaluation.Score}");
            Assert.Multiple(() =>
            {
                Assert.That(evaluation.Score, Is.EqualTo(evaluation.Metrics[plan.Metric.Name]));
                Assert.That(evaluation.Hyperparameters, Is.EqualTo(candidate.Hyperparameters));
                // The default test fraction (0.2) is held out: fit and validation rows together are the training part.
                Assert.That(evaluation.TrainRows + evaluation.ValidationRows, Is.InRange(Rows * 0.7, Rows * 0.9));
                Assert.That(evaluation.ValidationRows, Is.InRange(Rows * 0.8 * 0.1, Rows * 0.8 * 0.3));
            });
        }

        // Different trainers and settings do not all score the same: the hyperparameters reach the trainers.
        Assert.That(scores.Distinct().Count(), Is.GreaterThan(plan.Candidates.Count / 2), string.Join("; ", scores));
    }

    [Test]
    [Category("Integration")]
    public async Task EvaluateAsync_WithClassWeighting_RaisesTheMacroMetricsOnUnbalancedClasses()
    {
        var candidate = new TrainingCandidate("SdcaMaximumEntropy", new Dictionary<string, double> { ["l2Regularization"] = 0.01 });
        var request = new EvaluateCandidateRequest(ModelTask.MulticlassClassification, UnbalancedWeather.Columns, candidate, "macroF1");

        var plain = await Evaluator.EvaluateAsync(request, UnbalancedWeather.RowsAsync(3000, 5), null, CancellationToken.None);
        var weighted = await Evaluator.EvaluateAsync(
            request with { ClassWeighting = true },
            UnbalancedWeather.RowsAsync(3000, 5),
            null,
            CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(weighted.Metrics["macroAccuracy"], Is.GreaterThan(plain.Metrics["macroAccuracy"] + 0.05));
            Assert.That(weighted.Score, Is.GreaterThan(plain.Score!.Value));
        });
    }
}
