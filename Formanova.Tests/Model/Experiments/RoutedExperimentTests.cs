using Formanova.Modules.Model;
using Formanova.Modules.Model.Experiments;

namespace Formanova.Tests.Model.Experiments;

/// <summary>
/// Arm assignment: a sticky entity keeps its arm, and over many entities (sticky) or requests (random) each arm's share
/// stays within five standard deviations of the binomial count its normalised weight predicts.
/// </summary>
public sealed class RoutedExperimentTests
{
    private const int Draws = 20_000;

    [Test]
    public void Route_WhenStickyWithAnEntity_KeepsTheEntityOnOneArm()
    {
        var experiment = Experiment(ExperimentAssignment.Sticky, 1, 1, 1);

        for (var i = 0; i < 200; i++)
        {
            var entity = $"customer-{i}";
            var first = experiment.Route(entity);
            Assert.That(Enumerable.Range(0, 5).Select(_ => experiment.Route(entity)), Is.All.SameAs(first), entity);
        }
    }

    [Test]
    public void Route_WhenTheWeightsChange_MovesOnlyTheEntitiesWhoseShareMoved()
    {
        var before = Experiment(ExperimentAssignment.Sticky, 9, 1);
        var after = Experiment(ExperimentAssignment.Sticky, 1, 1);

        var entities = Enumerable.Range(0, 2000).Select(i => $"e{i}").ToList();

        Assert.That(
            entities.Where(e => before.Route(e).Name == "b").Select(e => after.Route(e).Name),
            Is.All.EqualTo("b"),
            "an entity on the candidate stays there when the candidate's share grows");
    }

    [TestCase(ExperimentAssignment.Sticky, new[] { 1.0, 1.0 })]
    [TestCase(ExperimentAssignment.Sticky, new[] { 3.0, 1.0, 0.0, 6.0 })]
    [TestCase(ExperimentAssignment.Random, new[] { 1.0, 1.0 })]
    [TestCase(ExperimentAssignment.Random, new[] { 0.05, 0.95 })]
    public void Route_OverManyEntities_SplitsPerTheNormalisedWeights(ExperimentAssignment assignment, double[] weights)
    {
        var experiment = Experiment(assignment, weights);
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < Draws; i++)
        {
            var arm = experiment.Route($"entity-{i}").Name;
            counts[arm] = counts.GetValueOrDefault(arm) + 1;
        }

        var total = weights.Sum();
        Assert.Multiple(() =>
        {
            for (var a = 0; a < weights.Length; a++)
            {
                var p = weights[a] / total;
                var bound = 5 * Math.Sqrt(Draws * p * (1 - p));
                Assert.That(counts.GetValueOrDefault(Name(a)), Is.EqualTo(Draws * p).Within(bound), $"arm {Name(a)}, p = {p}");
            }
        });
    }

    [Test]
    public void Route_WhenStickyWithoutAnEntity_AssignsAtRandom()
    {
        var experiment = Experiment(ExperimentAssignment.Sticky, 1, 1);

        var toA = Enumerable.Range(0, Draws).Count(_ => experiment.Route(null).Name == "a");

        Assert.That(toA, Is.EqualTo(Draws / 2.0).Within(5 * Math.Sqrt(Draws * 0.25)));
    }

    [Test]
    public void StickyPoint_IsTheSameForTheSameKeysAndDiffersAcrossExperiments()
    {
        var points = Enumerable.Range(0, 1000).Select(i => RoutedExperiment.StickyPoint("exp-1", $"e{i}")).ToList();
        var again = Enumerable.Range(0, 1000).Select(i => RoutedExperiment.StickyPoint("exp-1", $"e{i}")).ToList();
        var other = Enumerable.Range(0, 1000).Select(i => RoutedExperiment.StickyPoint("exp-2", $"e{i}")).ToList();

        Assert.Multiple(() =>
        {
            Assert.That(again, Is.EqualTo(points));
            Assert.That(points, Is.All.InRange(0.0, 1.0).And.All.LessThan(1.0));
            // Independent uniforms agree on the side of 0.5 about half the time: a new experiment reshuffles entities.
            var sameSide = points.Zip(other).Count(p => p.First < 0.5 == p.Second < 0.5);
            Assert.That(sameSide, Is.EqualTo(500).Within(5 * Math.Sqrt(1000 * 0.25)));
        });
    }

    private static string Name(int index) => ((char)('a' + index)).ToString();

    private static RoutedExperiment Experiment(ExperimentAssignment assignment, params double[] weights)
    {
        var now = DateTimeOffset.UtcNow;
        var arms = weights.Select((w, i) => new ExperimentArm(Name(i), $"1.{i}.0", null, w, i == 0)).ToList();
        return RoutedExperiment.From(new ExperimentInfo(
            "exp-1", "churn", ExperimentMode.Split, assignment, ExperimentMetric.Accuracy, new ExperimentGuards(), 100, 0.05,
            TimeSpan.FromMinutes(1), null, null, true, arms, ExperimentStatus.Running, null, null, now, now, null));
    }
}
