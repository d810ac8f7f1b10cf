using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Options;

namespace Formanova.Tests.Model.Training;

[Category("Integration")]
public sealed class ModelTrainerTests
{
    [Test]
    public async Task TrainAsync_OnSampleChurnDataWithFastTree_ReachesAucAbove080()
    {
        var trained = await ModelTestKit.TrainAsync(seed: 42, rows: 3000);

        Assert.Multiple(() =>
        {
            Assert.That(trained.Trainer, Is.EqualTo("FastTree"));
            Assert.That(trained.Metrics["auc"], Is.GreaterThan(0.80));
            Assert.That(trained.Metrics["accuracy"], Is.GreaterThan(0.75));
            Assert.That(trained.Metrics.Keys, Is.SupersetOf(new[] { "auc", "accuracy", "f1", "logLoss" }));
            Assert.That(trained.TrainRows + trained.TestRows, Is.EqualTo(3000));
            Assert.That(trained.TestRows, Is.InRange(450, 750));
        });
    }

    [Test]
    public async Task TrainAsync_OnSampleSegments_ReachesMicroAccuracyAbove080()
    {
        var trained = await ModelTestKit.TrainAsync(seed: 42, rows: 3000, task: ModelTask.MulticlassClassification);

        Assert.Multiple(() =>
        {
            Assert.That(trained.Trainer, Is.EqualTo("SdcaMaximumEntropy"));
            Assert.That(trained.Metrics["microAccuracy"], Is.GreaterThan(0.80));
            Assert.That(trained.Metrics.Keys, Is.SupersetOf(new[] { "macroAccuracy", "microAccuracy", "logLoss" }));
        });
    }

    [Test]
    public async Task TrainAsync_OnSampleLifetimeValue_ReachesRSquaredAbove080()
    {
        var trained = await ModelTestKit.TrainAsync(seed: 42, rows: 3000, task: ModelTask.Regression);

        Assert.Multiple(() =>
        {
            Assert.That(trained.Metrics["r2"], Is.GreaterThan(0.80));
            Assert.That(trained.Metrics.Keys, Is.SupersetOf(new[] { "rmse", "mae", "r2" }));
        });
    }

    [TestCase(ModelTask.BinaryClassification, "LightGbm")]
    [TestCase(ModelTask.BinaryClassification, "FastForest")]
    [TestCase(ModelTask.BinaryClassification, "sdca")]
    [TestCase(ModelTask.BinaryClassification, "LbfgsLogisticRegression")]
    [TestCase(ModelTask.MulticlassClassification, "LightGbm")]
    [TestCase(ModelTask.MulticlassClassification, "FastTree")]
    [TestCase(ModelTask.MulticlassClassification, "lbfgs")]
    [TestCase(ModelTask.Regression, "Sdca")]
    [TestCase(ModelTask.Regression, "FastForest")]
    [TestCase(ModelTask.Regression, "LbfgsPoissonRegression")]
    public async Task TrainAsync_WithNamedTrainer_TrainsAndEvaluates(ModelTask task, string trainer)
    {
        var trained = await ModelTestKit.TrainAsync(seed: 3, rows: 600, task, trainer);

        Assert.Multiple(() =>
        {
            Assert.That(trained.Zip, Is.Not.Empty);
            Assert.That(trained.Metrics, Is.Not.Empty);
        });
    }

    [Test]
    public async Task TrainAsync_WhenSeedIsTheSame_GivesTheSameMetrics()
    {
        foreach (var (task, trainer) in new[]
        {
            (ModelTask.BinaryClassification, "FastTree"),
            (ModelTask.MulticlassClassification, "SdcaMaximumEntropy")
        })
        {
            var first = await ModelTestKit.TrainAsync(seed: 11, rows: 1000, task, trainer);
            var second = await ModelTestKit.TrainAsync(seed: 11, rows: 1000, task, trainer);

            Assert.That(second.Metrics, Is.EqualTo(first.Metrics), $"{task} {trainer}");
        }
    }

    [Test]
    public void TrainAsync_WhenTrainerDoesNotFitTheTask_ThrowsInvalidNamingTheChoices()
    {
        var error = Assert.ThrowsAsync<ModuleException>(
            () => ModelTestKit.TrainAsync(seed: 1, rows: 100, ModelTask.Regression, "SdcaMaximumEntropy"));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Kind, Is.EqualTo(ErrorKind.Invalid));
            Assert.That(error.Message, Does.Contain("FastTree").And.Contain("LbfgsPoissonRegression"));
        });
    }

    [Test]
    public void TrainAsync_WhenRowsHaveWrongTypes_ListsEveryProblem()
    {
        var rows = SampleData.Rows(ModelTestKit.Binary, 50, 1).ToList();
        rows[3][0] = "twelve";
        rows[3][6] = 5.5;
        rows[3][8] = "maybe";
        rows[9] = [1.0];
        var trainer = new ModelTrainer(Options.Create(new ModelOptions()));

        var error = Assert.ThrowsAsync<ModuleException>(
            () => trainer.TrainAsync(ModelTestKit.Request(), rows.ToAsyncEnumerable(), null, null, CancellationToken.None));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Kind, Is.EqualTo(ErrorKind.Unprocessable));
            Assert.That(error.Message, Does.StartWith("Some training rows do not match the schema"));
            Assert.That(error.Errors["rows[3]"], Has.Some.Contains("tenure_months").And.Some.Contains("paperless_billing"));
            Assert.That(error.Errors["rows[3]"], Has.None.Contains("contract"), "a number is a valid category");
            Assert.That(error.Errors["rows[9]"], Has.Some.Contains("expected 12 values"));
        });
    }

    [Test]
    public void TrainAsync_WhenRowsExceedTheLimit_ThrowsTooLarge()
    {
        var options = new ModelOptions { Training = { MaxRows = 100 } };

        var error = Assert.ThrowsAsync<ModuleException>(() => ModelTestKit.TrainAsync(seed: 1, rows: 101, options: options));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Kind, Is.EqualTo(ErrorKind.TooLarge));
            Assert.That(error.Message, Is.EqualTo("The training rows exceed Model:Training:MaxRows (100)."));
        });
    }

    [Test]
    public void TrainAsync_WhenMemoryEstimateExceedsTheLimit_ThrowsTooLarge()
    {
        var options = new ModelOptions { Training = { MaxMemoryMegabytes = 1 } };

        var error = Assert.ThrowsAsync<ModuleException>(() => ModelTestKit.TrainAsync(seed: 1, rows: 40_000, options: options));

        Assert.That(error!.Message, Does.StartWith("The training rows need about").And.Contain("MaxMemoryMegabytes"));
    }

    [Test]
    public void TrainAsync_WhenCancelledOnceTrainingStarts_ThrowsOperationCanceled()
    {
        using var cancel = new CancellationTokenSource();
        var progress = new SyncProgress(p =>
        {
            if (p.Stage == "training")
            {
                cancel.Cancel();
            }
        });
        var trainer = new ModelTrainer(Options.Create(new ModelOptions()));

        Assert.CatchAsync<OperationCanceledException>(() => trainer.TrainAsync(
            ModelTestKit.Request(), SampleData.RowsAsync(ModelTestKit.Binary, 20_000, 1), null, progress, cancel.Token));
    }

    [Test]
    public void TrainAsync_WhenCancelledDuringTheFit_StopsTheFitItself()
    {
        using var cancel = new CancellationTokenSource();
        var trainingReports = 0;
        // The second "training" report is the heartbeat, sent while ML.NET's Fit is running.
        var progress = new SyncProgress(p =>
        {
            if (p.Stage == "training" && ++trainingReports == 2)
            {
                cancel.Cancel();
            }
        });
        var trainer = new ModelTrainer(Options.Create(new ModelOptions()));

        var error = Assert.CatchAsync<OperationCanceledException>(() => trainer.TrainAsync(
            ModelTestKit.Request(), SampleData.RowsAsync(ModelTestKit.Binary, 150_000, 1), null, progress, cancel.Token));

        Assert.That(error!.InnerException, Is.Not.Null, "ML.NET's own cancellation ended the fit, not the check after it");
    }

    [Test]
    public async Task TrainAsync_WhenReportingProgress_GoesFromReadingToTrained()
    {
        var stages = new List<string>();
        var trainer = new ModelTrainer(Options.Create(new ModelOptions()));

        await trainer.TrainAsync(
            ModelTestKit.Request(),
            SampleData.RowsAsync(ModelTestKit.Binary, 500, 1),
            null,
            new SyncProgress(p => stages.Add(p.Stage)),
            CancellationToken.None);

        Assert.That(stages.Distinct(), Is.EqualTo(new[] { "reading", "training", "evaluating", "saving", "trained" }));
    }

    [Test]
    public async Task TrainAsync_WithSeparateTestRows_EvaluatesOnThem()
    {
        var trainer = new ModelTrainer(Options.Create(new ModelOptions()));

        var trained = await trainer.TrainAsync(
            ModelTestKit.Request(),
            SampleData.RowsAsync(ModelTestKit.Binary, 800, 1),
            SampleData.RowsAsync(ModelTestKit.Binary, 300, 2),
            null,
            CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(trained.TrainRows, Is.EqualTo(800));
            Assert.That(trained.TestRows, Is.EqualTo(300));
        });
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; the tests need the report to happen inline.</summary>
    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
