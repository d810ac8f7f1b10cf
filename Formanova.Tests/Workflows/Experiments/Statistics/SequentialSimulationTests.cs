using Formanova.Host.Workflows.Experiments.Statistics;
using Formanova.Modules.Data;
using Formanova.Modules.Model;

namespace Formanova.Tests.Workflows.Experiments.Statistics;

/// <summary>
/// Seeded simulations of experiments looked at 30 times: the property the sequential test exists for is that
/// looking repeatedly does not inflate its false-positive rate, and that it still finds a clear effect.
/// </summary>
public sealed class SequentialSimulationTests
{
    private const int Looks = 30;
    private const int PerLook = 50;
    private const double Alpha = 0.05;

    [TestCase(ExperimentMetric.Accuracy, 0.7)]
    [TestCase(ExperimentMetric.Accuracy, 0.95)]
    [TestCase(ExperimentMetric.Mae, 1.0)]
    public void RepeatedLooks_WhenBothArmsAreTheSame_RejectAtMostAlphaOfTheTime(ExperimentMetric metric, double parameter)
    {
        const int runs = 500;
        var random = new Random(20261207);

        var rejected = Enumerable.Range(0, runs).Count(_ => RunRejects(random, metric, parameter, parameter));

        // α plus three binomial standard deviations of a rate α over 500 runs.
        var margin = 3 * Math.Sqrt(Alpha * (1 - Alpha) / runs);
        Assert.That(rejected / (double)runs, Is.LessThanOrEqualTo(Alpha + margin), $"{rejected} of {runs} A/A runs rejected");
    }

    [Test]
    public void RepeatedLooks_WhenTheCandidateIsClearlyBetter_DetectItAlmostAlways()
    {
        const int runs = 200;
        var random = new Random(7);

        var detected = Enumerable.Range(0, runs).Count(_ => RunRejects(random, ExperimentMetric.Accuracy, 0.70, 0.78));

        Assert.That(detected / (double)runs, Is.GreaterThanOrEqualTo(0.9), $"{detected} of {runs} runs detected the effect");
    }

    [Test]
    public void RepeatedLooks_WhenAFixedHorizonTestIsUsedInstead_RejectFarMoreOftenThanAlpha()
    {
        // The contrast docs/experiments.md draws: a z-test at every look stops on noise well above α.
        const int runs = 300;
        var random = new Random(99);

        var rejected = Enumerable.Range(0, runs).Count(_ => PeekingZTestRejects(random, 0.7));

        Assert.That(rejected / (double)runs, Is.GreaterThan(2 * Alpha));
    }

    private static bool RunRejects(Random random, ExperimentMetric metric, double control, double candidate)
    {
        var a = new Sums();
        var b = new Sums();
        var p = 1.0;
        for (var look = 0; look < Looks; look++)
        {
            for (var i = 0; i < PerLook; i++)
            {
                a.Add(Draw(random, metric, control));
                b.Add(Draw(random, metric, candidate));
            }

            var comparison = ExperimentStatistics.Compare(metric, a.Estimate(), b.Estimate(), Alpha, p)!;
            p = comparison.PValue;
            if (comparison.Significant)
            {
                return true;
            }
        }

        return false;
    }

    private static bool PeekingZTestRejects(Random random, double rate)
    {
        var a = new Sums();
        var b = new Sums();
        for (var look = 0; look < Looks; look++)
        {
            for (var i = 0; i < PerLook; i++)
            {
                a.Add(Draw(random, ExperimentMetric.Accuracy, rate));
                b.Add(Draw(random, ExperimentMetric.Accuracy, rate));
            }

            var (x, y) = (a.Estimate(), b.Estimate());
            if (Math.Abs(y.Mean - x.Mean) / Math.Sqrt(x.Variance + y.Variance) > 1.96)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A per-prediction loss: 1/0 correct for accuracy, an exponential absolute error of that mean otherwise.</summary>
    private static double Draw(Random random, ExperimentMetric metric, double parameter) => metric == ExperimentMetric.Accuracy
        ? random.NextDouble() < parameter ? 1 : 0
        : -parameter * Math.Log(1 - random.NextDouble());

    private sealed class Sums
    {
        private long _n;
        private double _sum;
        private double _squares;

        public void Add(double value)
        {
            _n++;
            _sum += value;
            _squares += value * value;
        }

        public ArmEstimate Estimate() => ArmEstimate.FromLoss(new LossStatistics(_n, _sum, _squares))!;
    }
}
