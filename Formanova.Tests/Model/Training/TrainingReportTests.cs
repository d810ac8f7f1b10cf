using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Options;

namespace Formanova.Tests.Model.Training;

[Category("Integration")]
public sealed class TrainingReportTests
{
    private static Task<TrainedModel> TrainAsync(
        ModelTask task,
        IReadOnlyList<ModelColumn> columns,
        IEnumerable<object?[]> rows,
        ModelOptions? options = null,
        IReadOnlyList<ReportColumn>? notes = null,
        string? trainer = null) =>
        new ModelTrainer(Options.Create(options ?? new ModelOptions())).TrainAsync(
            new TrainModelRequest("report", "1.0.0", task, columns, trainer, Seed: 5, ColumnNotes: notes),
            rows.ToAsyncEnumerable(),
            null,
            null,
            CancellationToken.None);

    [Test]
    public async Task TrainAsync_OnAnUnbalancedFiveClassTable_ShowsTheRareClassesAreNeverPredicted()
    {
        var trained = await TrainAsync(
            ModelTask.MulticlassClassification, ReportFixtures.WeatherColumns, ReportFixtures.Weather(1500, seed: 3));
        var report = trained.Report.Classification!;
        var perClass = report.PerClass.ToDictionary(c => c.Class);

        Assert.Multiple(() =>
        {
            Assert.That(report.ConfusionMatrix.Classes, Is.EquivalentTo(new[] { "sun", "rain", "fog", "drizzle", "snow" }));
            Assert.That(report.PerClass.Select(c => c.Class), Is.EqualTo(report.ConfusionMatrix.Classes), "one order for both");
            Assert.That(perClass["fog"].Support, Is.GreaterThan(0));
            Assert.That(perClass["fog"].Recall, Is.Zero);
            Assert.That(perClass["drizzle"].Recall, Is.Zero);
            Assert.That(report.NeverPredicted, Is.SupersetOf(new[] { "fog", "drizzle" }));
            Assert.That(perClass["sun"].Recall, Is.GreaterThan(0.9));
            Assert.That(report.MacroAccuracy, Is.LessThan(report.MicroAccuracy - 0.15));
            Assert.That(report.MacroF1, Is.LessThan(report.MicroAccuracy));
            Assert.That(report.LogLoss, Is.EqualTo(trained.Metrics["logLoss"]));
            // Counted from the predictions here and by ML.NET's evaluator there: they must agree.
            Assert.That(report.MicroAccuracy, Is.EqualTo(trained.Metrics["microAccuracy"]).Within(1e-9));
            Assert.That(report.MacroAccuracy, Is.EqualTo(trained.Metrics["macroAccuracy"]).Within(1e-9));
            Assert.That(report.ConfusionMatrix.Counts.Sum(row => row.Sum()), Is.EqualTo(trained.TestRows));
            Assert.That(report.ConfusionMatrix.Counts.Select(row => row.Sum()), Is.EqualTo(report.PerClass.Select(c => c.Support)));
        });
    }

    [Test]
    public async Task TrainAsync_OnAClassificationTable_ReportsRowsBalanceColumnsAndTheTrainer()
    {
        var rows = ReportFixtures.Weather(600, seed: 4);
        rows[7][^1] = null;
        rows[8][^1] = null;
        var notes = new List<ReportColumn>
        {
            new("id", ReportColumnUse.Ignored, "the dataset gives it the role 'id'"),
            new("Date", ReportColumnUse.Dropped, "datetime columns are not model features"),
        };

        var report = (await TrainAsync(ModelTask.MulticlassClassification, ReportFixtures.WeatherColumns, rows, notes: notes)).Report;

        var classes = report.Balance.Classes!;
        Assert.Multiple(() =>
        {
            Assert.That(report.Rows.Read, Is.EqualTo(600));
            Assert.That(report.Rows.Skipped, Is.EqualTo(2));
            Assert.That(report.Rows.SkippedByReason["noLabel"], Is.EqualTo(2));
            Assert.That(report.Rows.Train + report.Rows.Test, Is.EqualTo(598));
            Assert.That(classes[0].Class, Is.EqualTo("sun"), "most frequent first");
            Assert.That(classes.Sum(c => c.Train), Is.EqualTo(report.Rows.Train));
            Assert.That(classes.Sum(c => c.Test), Is.EqualTo(report.Rows.Test));
            Assert.That(report.Columns.Select(c => (c.Name, c.Use)), Is.EqualTo(new[]
            {
                ("Temp max (C)", ReportColumnUse.Feature),
                ("Temp min (C)", ReportColumnUse.Feature),
                ("Precipitation (mm)", ReportColumnUse.Feature),
                ("Wind (m/s)", ReportColumnUse.Feature),
                (ReportFixtures.WeatherLabel, ReportColumnUse.Label),
                ("id", ReportColumnUse.Ignored),
                ("Date", ReportColumnUse.Dropped),
            }));
            Assert.That(report.Columns.Single(c => c.Name == "Date").Reason, Does.Contain("datetime"));
            Assert.That(report.Trainer, Is.EqualTo("SdcaMaximumEntropy"));
            Assert.That(report.Hyperparameters["NumberOfThreads"], Is.EqualTo("1"), "the catalog's setting, as the trainer ran");
            Assert.That(report.Hyperparameters.Keys, Has.None.EndsWith("ColumnName"));
            Assert.That(report.Seed, Is.EqualTo(5));
            Assert.That(report.TestFraction, Is.EqualTo(0.2));
            Assert.That(
                report.PhaseSeconds.Keys,
                Is.EquivalentTo(new[] { "reading", "fitting", "evaluating", "importance", "profiling", "saving" }));
            Assert.That(report.TotalSeconds, Is.GreaterThanOrEqualTo(report.PhaseSeconds.Values.Sum() - 1e-6));
            Assert.That(report.Binary, Is.Null);
            Assert.That(report.Regression, Is.Null);
        });
    }

    [Test]
    public async Task TrainAsync_OnRegressionWithNullLabels_ReportsSkippedRowsResidualsAndImportance()
    {
        var trained = await TrainAsync(
            ModelTask.Regression,
            ReportFixtures.MileageColumns,
            ReportFixtures.Mileage(800, seed: 2, nullEvery: 10));
        var report = trained.Report;
        var residuals = report.Regression!.Residuals;
        var importance = report.Importance!.Features.ToDictionary(f => f.Column);

        Assert.Multiple(() =>
        {
            Assert.That(report.Rows.SkippedByReason["noLabel"], Is.EqualTo(80));
            Assert.That(report.Rows.Train + report.Rows.Test, Is.EqualTo(720));
            Assert.That(report.Balance.Classes, Is.Null);
            Assert.That(report.Balance.Train!.Count, Is.EqualTo(report.Rows.Train));
            Assert.That(report.Balance.Test!.Count, Is.EqualTo(report.Rows.Test));
            Assert.That(report.Balance.Train.Min, Is.LessThan(report.Balance.Train.Mean).And.LessThan(report.Balance.Train.Max));
            Assert.That(report.Regression.Rmse, Is.EqualTo(trained.Metrics["rmse"]));
            Assert.That(report.Regression.RSquared, Is.EqualTo(trained.Metrics["r2"]));
            Assert.That(
                new[] { residuals.P5, residuals.P25, residuals.P50, residuals.P75, residuals.P95 },
                Is.Ordered.Ascending);
            Assert.That(residuals.MaxAbsolute, Is.GreaterThanOrEqualTo(Math.Max(-residuals.P5, residuals.P95)));
            // RMSE² = bias² + variance of the residuals (population form); the sample spread is within a hair of it.
            Assert.That(residuals.StdDev, Is.EqualTo(report.Regression.Rmse).Within(report.Regression.Rmse * 0.1));
            Assert.That(report.Importance.Metric, Is.EqualTo("r2"));
            Assert.That(importance.Keys, Is.EquivalentTo(ReportFixtures.MileageColumns.Where(c => !c.IsLabel).Select(c => c.Name)));
            Assert.That(importance["Weight (lbs)"].Importance, Is.GreaterThan(0.1));
            Assert.That(importance["Noise"].Importance, Is.LessThan(0.02));
            Assert.That(report.Importance.Features[0].Column, Is.AnyOf("Weight (lbs)", "Horsepower", "Cylinders"));
        });
    }

    [Test]
    public async Task TrainAsync_OnBinaryChurn_ReportsAucPrAucThresholdAndPerRawColumnImportance()
    {
        var trained = await ModelTestKit.TrainAsync(seed: 42, rows: 3000);
        var report = trained.Report;

        Assert.Multiple(() =>
        {
            Assert.That(report.Binary!.Auc, Is.EqualTo(trained.Metrics["auc"]).Within(1e-9));
            Assert.That(report.Binary.PrAuc, Is.InRange(0.3, 1.0));
            Assert.That(report.Binary.Accuracy, Is.EqualTo(trained.Metrics["accuracy"]).Within(1e-9));
            // ML.NET cuts a calibrated tree ensemble on its raw score at 0, not on the probability at 0.5.
            Assert.That(report.Binary.Threshold, Is.Zero);
            Assert.That(report.Binary.ThresholdOn, Is.EqualTo("score"));
            Assert.That(report.Classification!.ConfusionMatrix.Classes, Is.EqualTo(new[] { "false", "true" }));
            Assert.That(report.Classification.MicroAccuracy, Is.EqualTo(trained.Metrics["accuracy"]).Within(1e-9));
            Assert.That(report.Hyperparameters["NumberOfTrees"], Is.EqualTo("100"));
            Assert.That(report.Hyperparameters["LearningRate"], Is.EqualTo("0.2"));
            // A categorical (one-hot) and a text (n-gram) column each count once, under their own name.
            Assert.That(
                report.Importance!.Features.Select(f => f.Column),
                Is.EquivalentTo(SampleData.Columns(ModelTask.BinaryClassification).Where(c => !c.IsLabel).Select(c => c.Name)));
            Assert.That(report.Importance.Metric, Is.EqualTo("auc"));
            Assert.That(report.Importance.Rows, Is.EqualTo(report.Rows.Test), "fewer test rows than the cap: all of them");
            Assert.That(report.Importance.Repeats, Is.EqualTo(3));
            Assert.That(report.Importance.Features.Select(f => f.Importance), Is.Ordered.Descending);
            Assert.That(report.Importance.Features[0].Column, Is.AnyOf("contract", "tenure_months", "support_calls", "feedback"));
        });
    }

    [Test]
    public async Task TrainAsync_WithImportanceRowsCapped_ScoresAtMostThatManyTestRows()
    {
        var capped = await ModelTestKit.TrainAsync(seed: 1, rows: 1000, options: new ModelOptions { Training = { ImportanceRows = 50 } });
        var off = await ModelTestKit.TrainAsync(seed: 1, rows: 1000, options: new ModelOptions { Training = { ImportanceRows = 0 } });

        Assert.Multiple(() =>
        {
            Assert.That(capped.Report.Rows.Test, Is.GreaterThan(50));
            Assert.That(capped.Report.Importance!.Rows, Is.EqualTo(50));
            Assert.That(off.Report.Importance, Is.Null);
            Assert.That(off.Metrics, Is.EqualTo(capped.Metrics), "importance never changes the model");
        });
    }

    [Test]
    public void TrainAsync_WhenRowsHaveWrongTypes_ExposesEachProblemWithRowColumnAndReason()
    {
        var rows = SampleData.Rows(ModelTestKit.Binary, 50, 1).ToList();
        rows[3][0] = "twelve";
        rows[3][8] = "maybe";
        rows[9] = [1.0];
        rows[12][11] = "perhaps";

        var error = Assert.ThrowsAsync<ModuleException>(
            () => TrainAsync(ModelTestKit.Binary, SampleData.Columns(ModelTestKit.Binary), rows));

        var problems = TrainingRowProblem.Of(error!);
        Assert.Multiple(() =>
        {
            Assert.That(problems.Select(p => (p.Source, p.Row, p.Column)), Is.EqualTo(new[]
            {
                ("rows", 3L, (string?)"tenure_months"),
                ("rows", 3L, "paperless_billing"),
                ("rows", 9L, null),
                ("rows", 12L, "churned"),
            }));
            Assert.That(problems[0].Reason, Does.Contain("expected a number"));
            Assert.That(problems[2].Reason, Is.EqualTo("expected 12 values, got 1"));
            Assert.That(problems[3].Reason, Does.Contain("not a valid BinaryClassification label"));
            Assert.That(error!.Message, Does.Contain("first 4 problems listed"));
        });
    }

    [Test]
    public void TrainAsync_WhenManyRowsAreInvalid_ListsTheFirstProblemsUpToTheCap()
    {
        var rows = SampleData.Rows(ModelTestKit.Binary, 200, 1).ToList();
        foreach (var row in rows.Where((_, i) => i % 3 == 0))
        {
            row[0] = "n/a";
            row[1] = "n/a";
        }

        var error = Assert.ThrowsAsync<ModuleException>(
            () => TrainAsync(ModelTestKit.Binary, SampleData.Columns(ModelTestKit.Binary), rows));

        var problems = TrainingRowProblem.Of(error!);
        Assert.Multiple(() =>
        {
            Assert.That(problems, Has.Count.EqualTo(TrainingRowProblem.MaxListed));
            Assert.That(problems.Select(p => p.Row).Distinct(), Is.EqualTo(Enumerable.Range(0, 10).Select(i => i * 3L)));
            Assert.That(
                error!.Message,
                Is.EqualTo($"Some training rows do not match the schema (first {TrainingRowProblem.MaxListed} problems listed)."));
        });
    }
}
