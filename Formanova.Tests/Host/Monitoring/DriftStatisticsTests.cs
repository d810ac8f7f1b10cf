using Formanova.Host.Monitoring;
using Formanova.Modules.Model;

namespace Formanova.Tests.Host.Monitoring;

public sealed class DriftStatisticsTests
{
    [Test]
    public void Psi_WhenTheSharesAreTheSame_IsZero()
    {
        Assert.That(DriftStatistics.Psi([10, 20, 70], [100, 200, 700]), Is.Zero.Within(1e-12));
    }

    [Test]
    public void Psi_WhenTheSharesMove_IsTheSumOfEachBinsTerm()
    {
        // (0.3 − 0.5)·ln(0.3/0.5) + (0.7 − 0.5)·ln(0.7/0.5)
        var expected = (-0.2 * Math.Log(0.6)) + (0.2 * Math.Log(1.4));

        Assert.That(DriftStatistics.Psi([50, 50], [30, 70]), Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void Psi_WhenALiveBinIsEmpty_StaysFinite()
    {
        Assert.That(DriftStatistics.Psi([50, 50], [0, 100]), Is.GreaterThan(DriftStatistics.Significant).And.LessThan(10));
    }

    [TestCase(0.05, "stable")]
    [TestCase(0.1, "moderate")]
    [TestCase(0.3, "significant")]
    public void Band_ByTheConventionalCuts_NamesTheShift(double psi, string band)
    {
        Assert.That(DriftStatistics.Band(psi), Is.EqualTo(band));
    }

    [Test]
    public void Feature_WhenACategoricalFeatureGetsUnseenValuesAndNulls_BreachesQualityThresholds()
    {
        var reference = new ColumnProfile("plan", ColumnKind.Categorical, 1000, null, new CategoricalProfile(["a", "b"], [600, 400], 0, 0));
        var live = new LiveCounts("plan", [300, 200], 300, 200, 0);

        var drift = DriftStatistics.Feature(reference, live, 1000, new MonitoringThresholds());

        Assert.Multiple(() =>
        {
            Assert.That(drift.UnseenRate, Is.EqualTo(0.3).Within(1e-9));
            Assert.That(drift.NullRate, Is.EqualTo(0.2).Within(1e-9));
            Assert.That(drift.Breaches, Is.EquivalentTo(new[] { "featureDrift", "nullRate", "unseenCategories" }));
        });
    }

    [Test]
    public void Merge_WhenInstancesFlushedTheirOwnWindows_AddsThemUp()
    {
        var start = DateTimeOffset.UnixEpoch;
        LiveWindow Window(long rows, long first) => new(
            "m", "1.0.0", start.AddMinutes(rows), start.AddMinutes(rows + 5), rows, [new LiveCounts("x", [first, rows - first], 0, 0, 1)],
            new LiveCounts("prediction", [rows], 0, 0, 0));

        var merged = DriftStatistics.Merge([Window(10, 4), Window(20, 5)])!;

        Assert.Multiple(() =>
        {
            Assert.That(merged.Rows, Is.EqualTo(30));
            Assert.That(merged.Features[0].Counts, Is.EqualTo(new long[] { 9, 21 }));
            Assert.That(merged.Features[0].OutOfRange, Is.EqualTo(2));
            Assert.That(merged.Start, Is.EqualTo(start.AddMinutes(10)));
            Assert.That(merged.End, Is.EqualTo(start.AddMinutes(25)));
        });
    }
}
