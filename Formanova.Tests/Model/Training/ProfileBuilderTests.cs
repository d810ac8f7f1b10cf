using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Microsoft.Extensions.Options;

namespace Formanova.Tests.Model.Training;

public sealed class ProfileBuilderTests
{
    [Test]
    public void Numeric_WhenAMillionUniformValues_GivesTenEvenBinsAndCountsEveryValue()
    {
        var values = Enumerable.Range(0, 1_000_000).Select(i => i % 10 == 3 ? float.NaN : (float)(i % 1000));

        var profile = ProfileBuilder.Numeric("x", ColumnKind.Numeric, values, seed: 1).Numeric!;

        Assert.Multiple(() =>
        {
            Assert.That(profile.Counts, Has.Count.EqualTo(ReferenceProfile.MaxBins));
            Assert.That(profile.Edges, Is.Ordered.Ascending);
            Assert.That(profile.Counts.Sum() + profile.Nulls, Is.EqualTo(1_000_000));
            Assert.That(profile.Nulls, Is.EqualTo(100_000));
            Assert.That(profile.Min, Is.Zero);
            Assert.That(profile.Max, Is.EqualTo(999));
            // Quantile bins of a uniform column each hold about a tenth (the reservoir places the edges roughly).
            Assert.That(profile.Counts, Has.All.InRange(60_000, 120_000));
        });
    }

    [Test]
    public void Numeric_WhenTwoLevels_CollapsesIntoTwoBins()
    {
        var profile = ProfileBuilder.Numeric("flag", ColumnKind.Boolean, Enumerable.Range(0, 1000).Select(i => i % 4 == 0 ? 1f : 0f), 1);

        Assert.That(profile.Numeric!.Counts, Is.EqualTo(new long[] { 750, 250 }));
    }

    [Test]
    public void Categorical_WhenMoreDistinctValuesThanTheBounds_KeepsTheTopCategoriesAndCountsTheRestAsOther()
    {
        // 100,000 distinct values plus three frequent ones: the profile must stay the same size whatever the data.
        var values = Enumerable.Range(0, 100_000).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Concat(Enumerable.Repeat("a", 5000)).Concat(Enumerable.Repeat("b", 3000)).Concat(Enumerable.Repeat("", 700));

        var profile = ProfileBuilder.Categorical("c", values);
        var categorical = profile.Categorical!;

        Assert.Multiple(() =>
        {
            Assert.That(categorical.Categories, Has.Count.EqualTo(ReferenceProfile.MaxCategories));
            Assert.That(categorical.Categories.Take(2).ToArray(), Is.EqualTo(new[] { "a", "b" }), "frequent values arriving late");
            Assert.That(categorical.Counts.Take(2).ToArray(), Is.EqualTo(new long[] { 5000, 3000 }));
            Assert.That(categorical.Nulls, Is.EqualTo(700));
            Assert.That(categorical.Counts.Sum() + categorical.Other + categorical.Nulls, Is.EqualTo(profile.Count));
            Assert.That(profile.NullRate, Is.EqualTo(700.0 / 108_700).Within(1e-12));
        });
    }

    [Test]
    [Category("Integration")]
    public async Task TrainAsync_WhenTrainingAClassifier_StoresABoundedProfileOfFeaturesLabelAndPredictions()
    {
        var trained = await new ModelTrainer(Options.Create(new ModelOptions())).TrainAsync(
            new TrainModelRequest("profile", "1.0.0", ModelTask.MulticlassClassification, ReportFixtures.WeatherColumns, Seed: 5),
            ReportFixtures.Weather(3000, seed: 3).ToAsyncEnumerable(),
            null,
            null,
            CancellationToken.None);

        var profile = trained.Report.Profile!;
        var json = System.Text.Json.JsonSerializer.Serialize(profile);
        Assert.Multiple(() =>
        {
            var features = ReportFixtures.WeatherColumns.Where(c => !c.IsLabel).Select(c => c.Name);
            Assert.That(profile.Features.Select(f => f.Name), Is.EqualTo(features));
            Assert.That(profile.Features.Select(f => f.Count), Has.All.EqualTo(trained.TrainRows));
            Assert.That(profile.Label.Categorical!.Counts.Sum(), Is.EqualTo(trained.TrainRows));
            Assert.That(profile.Predictions.Categorical!.Counts.Sum(), Is.EqualTo(trained.TestRows));
            Assert.That(json.Length, Is.LessThan(8000), "a few kilobytes for a handful of features");
        });
    }
}
