using System.Diagnostics.Metrics;
using Formanova.Host.Dashboard.Overview;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Formanova.Tests.Host.Dashboard.Overview;

/// <summary>The overview's hour of predictions, fed by instruments named as the Model module names its own.</summary>
public sealed class PredictionStatsTests
{
    private ServiceProvider _services = null!;
    private FakeTimeProvider _clock = null!;
    private Counter<long> _inferences = null!;
    private Histogram<double> _duration = null!;
    private PredictionStats _stats = null!;
    private long _hits;
    private long _misses;

    [SetUp]
    public void SetUp()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        _clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        _hits = 0;
        _misses = 0;
        (_inferences, _duration) = Instruments(_services.GetRequiredService<IMeterFactory>());
        _stats = new PredictionStats(_services.GetRequiredService<IMeterFactory>(), _clock);
    }

    [TearDown]
    public void TearDown()
    {
        _stats.Dispose();
        _services.Dispose();
    }

    [Test]
    public void Summary_WhenPredictionsWereRecorded_GivesTheirRateErrorRateAndLatencyPercentiles()
    {
        Record(90, "success", 0.004);
        Record(10, "failure", 0.2);
        _clock.Advance(TimeSpan.FromMinutes(1));
        Record(20, "fallback", 0.004);

        var summary = _stats.Summary();

        Assert.That(summary.Requests, Is.EqualTo(120));
        Assert.That(summary.WindowMinutes, Is.EqualTo(2));
        Assert.That(summary.RatePerMinute, Is.EqualTo(60));
        Assert.That(summary.ErrorRate, Is.EqualTo(10 / 120.0).Within(1e-9));
        Assert.That(summary.Fallbacks, Is.EqualTo(20));
        Assert.That(summary.P50Milliseconds, Is.InRange(2.5, 5));
        Assert.That(summary.P95Milliseconds, Is.InRange(100, 250));
        Assert.That(summary.Minutes, Has.Count.EqualTo(PredictionStats.Minutes));
        Assert.That(summary.Minutes.TakeLast(2).Select(m => m.Requests), Is.EqualTo(new long[] { 100, 20 }));
        Assert.That(summary.Minutes[^2].P95Milliseconds, Is.InRange(100, 250));
    }

    [Test]
    public void Summary_WhenMoreThanAnHourHasPassed_LeavesTheOlderMinutesOut()
    {
        Record(5, "success", 0.01);
        _clock.Advance(TimeSpan.FromMinutes(30));
        Record(7, "failure", 0.01);
        var both = _stats.Summary();

        _clock.Advance(TimeSpan.FromMinutes(31));
        var later = _stats.Summary();

        Assert.That(both.Requests, Is.EqualTo(12));
        Assert.That(later.Requests, Is.EqualTo(7));
        Assert.That(later.ErrorRate, Is.EqualTo(1));
        Assert.That(later.WindowMinutes, Is.EqualTo(PredictionStats.Minutes));
    }

    [Test]
    public void Summary_WhenTheCacheAnswered_GivesTheHitRateOfTheWindowOnly()
    {
        _hits = 30;
        _misses = 10;
        var first = _stats.Summary();
        _clock.Advance(TimeSpan.FromMinutes(10));
        _stats.Summary();

        _clock.Advance(TimeSpan.FromMinutes(55));
        _hits = 40;
        _misses = 30;
        var later = _stats.Summary();

        Assert.That(first.CacheHitRate, Is.EqualTo(0.75));
        Assert.That(first.CacheLookups, Is.EqualTo(40));
        Assert.That(later.CacheHitRate, Is.EqualTo(10 / 30.0).Within(1e-9), "the lookups before the window still count");
    }

    [Test]
    public void Summary_WhenAnotherHostInTheProcessPredicts_LeavesItsPredictionsOut()
    {
        using var other = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var (inferences, _) = Instruments(other.GetRequiredService<IMeterFactory>());

        inferences.Add(50, new KeyValuePair<string, object?>("outcome", "success"));

        Assert.That(_stats.Summary().Requests, Is.Zero);
    }

    [Test]
    public void Summary_WhenNothingWasPredicted_HasNoRatesToShow()
    {
        var summary = _stats.Summary();

        Assert.That(summary.Requests, Is.Zero);
        Assert.That(summary.ErrorRate, Is.Null);
        Assert.That(summary.P95Milliseconds, Is.Null);
        Assert.That(summary.CacheHitRate, Is.Null);
    }

    private (Counter<long> Inferences, Histogram<double> Duration) Instruments(IMeterFactory meters)
    {
        var meter = meters.Create("Formanova");
        meter.CreateObservableCounter(PredictionStats.CacheHits, () => _hits);
        meter.CreateObservableCounter(PredictionStats.CacheMisses, () => _misses);
        return (meter.CreateCounter<long>(PredictionStats.Inferences), meter.CreateHistogram<double>(PredictionStats.InferenceDuration));
    }

    private void Record(int count, string outcome, double seconds)
    {
        for (var i = 0; i < count; i++)
        {
            var tag = new KeyValuePair<string, object?>("outcome", outcome);
            _inferences.Add(1, tag);
            _duration.Record(seconds, tag);
        }
    }
}
