using Formanova.Host.Monitoring;
using Formanova.Modules.Model;

namespace Formanova.Tests.Host.Monitoring;

public sealed class LiveTrackerTests
{
    private static readonly ModelColumn[] Features = [new("amount", ColumnKind.Numeric), new("plan", ColumnKind.Categorical)];

    private static ReferenceProfile Reference() => new(
        1000,
        [
            new ColumnProfile("amount", ColumnKind.Numeric, 1000, new NumericProfile([10, 20], [300, 400, 300], 0, 30, 0), null),
            new ColumnProfile("plan", ColumnKind.Categorical, 1000, null, new CategoricalProfile(["a", "b"], [600, 400], 0, 0)),
        ],
        new ColumnProfile("label", ColumnKind.Categorical, 1000, null, new CategoricalProfile(["false", "true"], [500, 500], 0, 0)),
        new ColumnProfile("prediction", ColumnKind.Categorical, 200, null, new CategoricalProfile(["false", "true"], [100, 100], 0, 0)));

    private static PredictionResult Answer(string label) => new("m", "1.0.0", label, null, null, null, null, false, 0);

    [Test]
    public void Drain_AfterObservations_CountsEachValueInTheReferencesBinsAndCategories()
    {
        var tracker = new LiveTracker("m", "1.0.0", Reference(), DateTimeOffset.UnixEpoch);
        tracker.Observe(Answer("true"), Features, [5f, 0], ["", "a"]);
        tracker.Observe(Answer("true"), Features, [15f, 0], ["", "b"]);
        tracker.Observe(Answer("false"), Features, [99f, 0], ["", "zzz"]);
        tracker.Observe(Answer("false"), Features, [float.NaN, 0], ["", ""]);

        var window = tracker.Drain(DateTimeOffset.UnixEpoch.AddMinutes(5))!;

        Assert.Multiple(() =>
        {
            Assert.That(window.Rows, Is.EqualTo(4));
            Assert.That(window.Features[0].Counts, Is.EqualTo(new long[] { 1, 1, 1 }));
            Assert.That(window.Features[0].Nulls, Is.EqualTo(1));
            Assert.That(window.Features[0].OutOfRange, Is.EqualTo(1), "99 is above the reference's max of 30");
            Assert.That(window.Features[1].Counts, Is.EqualTo(new long[] { 1, 1 }));
            Assert.That(window.Features[1].Other, Is.EqualTo(1));
            Assert.That(window.Features[1].Nulls, Is.EqualTo(1));
            Assert.That(window.Predictions.Counts, Is.EqualTo(new long[] { 2, 2 }));
            Assert.That(tracker.Drain(DateTimeOffset.UnixEpoch.AddMinutes(10)), Is.Null, "a window without traffic is not written");
        });
    }

    [Test]
    public void Observe_WhenAMillionPredictionsWithDistinctValuesArriveFromManyThreads_StaysTheSameSizeAndLosesNothing()
    {
        var tracker = new LiveTracker("m", "1.0.0", Reference(), DateTimeOffset.UnixEpoch);
        var slots = tracker.Slots;

        Parallel.For(0, 1_000_000, i =>
        {
            var texts = new[] { "", i.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            tracker.Observe(Answer(i % 2 == 0 ? "true" : "false"), Features, [i % 40, 0], texts);
        });
        var window = tracker.Drain(DateTimeOffset.UnixEpoch.AddMinutes(5))!;

        Assert.Multiple(() =>
        {
            Assert.That(tracker.Slots, Is.EqualTo(slots), "the counters are fixed by the reference, whatever the traffic");
            Assert.That(window.Rows, Is.EqualTo(1_000_000));
            Assert.That(window.Features[0].Counts.Sum(), Is.EqualTo(1_000_000));
            Assert.That(window.Features[1].Counts.Sum() + window.Features[1].Other, Is.EqualTo(1_000_000));
            Assert.That(window.Predictions.Counts.Sum(), Is.EqualTo(1_000_000));
        });
    }
}
