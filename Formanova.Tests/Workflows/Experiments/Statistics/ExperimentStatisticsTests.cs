using Formanova.Host.Workflows.Experiments.Statistics;
using Formanova.Modules.Data;
using Formanova.Modules.Model;

namespace Formanova.Tests.Workflows.Experiments.Statistics;

public sealed class ExperimentStatisticsTests
{
    [Test]
    public void FromLoss_WhenThereAreNoValues_IsNull()
    {
        Assert.That(ArmEstimate.FromLoss(null), Is.Null);
        Assert.That(ArmEstimate.FromLoss(new LossStatistics(0, 0, 0)), Is.Null);
    }

    [Test]
    public void FromLoss_WhenGivenSums_IsTheMeanAndTheSampleVarianceOverN()
    {
        // Values 1, 2, 3, 4: mean 2.5, s² = 5/3.
        var arm = ArmEstimate.FromLoss(new LossStatistics(4, 10, 30))!;

        Assert.That(arm.Mean, Is.EqualTo(2.5));
        Assert.That(arm.UnitVariance, Is.EqualTo(5.0 / 3).Within(1e-12));
        Assert.That(arm.Variance, Is.EqualTo(5.0 / 12).Within(1e-12));
    }

    [Test]
    public void FromAuc_WhenGivenTheCounts_IsTheHanleyMcNeilVariance()
    {
        // A = 0.8, 50 and 50: Q₁ = 2/3, Q₂ = 32/45, V = (0.16 + 49·(2/3 − 0.64) + 49·(32/45 − 0.64)) / 2500.
        var arm = ArmEstimate.FromAuc(0.8, 50, 50)!;

        Assert.That(arm.Variance, Is.EqualTo((0.16 + (49 * ((2.0 / 3) - 0.64)) + (49 * ((32.0 / 45) - 0.64))) / 2500).Within(1e-12));
        Assert.That(arm.N, Is.EqualTo(50));
        Assert.That(ArmEstimate.FromAuc(0.8, 0, 50), Is.Null);
        Assert.That(ArmEstimate.FromAuc(null, 50, 50), Is.Null);
    }

    [Test]
    public void Compare_WhenAnArmHasTooFewValues_DecidesNothing()
    {
        var one = ArmEstimate.FromLoss(new LossStatistics(1, 1, 1))!;
        var many = ArmEstimate.FromLoss(new LossStatistics(100, 10, 10))!;

        var comparison = ExperimentStatistics.Compare(ExperimentMetric.Accuracy, many, one, 0.05, 1);

        Assert.That(comparison, Is.Null);
    }

    [Test]
    public void Compare_WhenBothArmsAreConstantAndEqual_HasNoEvidence()
    {
        var all = ArmEstimate.FromLoss(new LossStatistics(500, 500, 500))!;

        var comparison = ExperimentStatistics.Compare(ExperimentMetric.Accuracy, all, all, 0.05, 1)!;

        Assert.That(comparison.PValue, Is.EqualTo(1));
        Assert.That(comparison.Significant, Is.False);
    }

    [Test]
    public void Compare_WhenTwoTinyArmsAreConstantAndOpposite_IsNotYetSure()
    {
        // Each arm's own variance is 0; without the pooled variance the difference would look infinitely sure.
        var right = ArmEstimate.FromLoss(new LossStatistics(2, 2, 2))!;
        var wrong = ArmEstimate.FromLoss(new LossStatistics(2, 0, 0))!;

        var comparison = ExperimentStatistics.Compare(ExperimentMetric.Accuracy, wrong, right, 0.05, 1)!;

        Assert.That(comparison.Variance, Is.GreaterThan(0));
        Assert.That(comparison.Significant, Is.False);
    }

    [TestCase(ExperimentMetric.Accuracy, 0.9, 0.7, Favours.Candidate)]
    [TestCase(ExperimentMetric.Accuracy, 0.7, 0.9, Favours.Control)]
    [TestCase(ExperimentMetric.LogLoss, 0.3, 0.6, Favours.Candidate)]
    [TestCase(ExperimentMetric.Rmse, 0.6, 0.3, Favours.Control)]
    public void Compare_WhenTheDifferenceIsClear_FavoursTheBetterArmByTheMetricsDirection(
        ExperimentMetric metric,
        double candidateMean,
        double controlMean,
        Favours expected)
    {
        var candidate = new ArmEstimate(candidateMean, 0.0001, 0.2, 2000);
        var control = new ArmEstimate(controlMean, 0.0001, 0.2, 2000);

        var comparison = ExperimentStatistics.Compare(metric, control, candidate, 0.05, 1)!;

        Assert.That(comparison.Significant, Is.True);
        Assert.That(comparison.Favours, Is.EqualTo(expected));
        Assert.That(comparison.Difference, Is.EqualTo(candidateMean - controlMean).Within(1e-12));
    }

    [Test]
    public void PerComparisonAlpha_WhenThereAreSeveralCandidates_DividesAlpha()
    {
        Assert.That(ExperimentStatistics.PerComparisonAlpha(0.05, 1), Is.EqualTo(0.05));
        Assert.That(ExperimentStatistics.PerComparisonAlpha(0.05, 4), Is.EqualTo(0.0125));
        Assert.That(ExperimentStatistics.PerComparisonAlpha(0.05, 0), Is.EqualTo(0.05));
    }
}
