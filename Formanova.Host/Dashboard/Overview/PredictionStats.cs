using System.Diagnostics.Metrics;
using Formanova.Modules.Shared.Telemetry;

namespace Formanova.Host.Dashboard.Overview;

/// <summary>
/// The last hour of this process's predictions, for the overview: a bounded ring of per-minute samples filled from the
/// Model module's own instruments (docs/observability.md) by a <see cref="MeterListener"/>. Prometheus keeps the long
/// history; the dashboard must answer on the embedded defaults, where nothing scrapes, so it keeps the hour itself.
/// Only this process's meters are heard (<see cref="Meter.Scope"/>), so hosts sharing a test process stay apart.
/// </summary>
internal sealed class PredictionStats : BackgroundService
{
    public const string Inferences = "formanova.model.inferences";
    public const string InferenceDuration = "formanova.model.inference.duration";
    public const string CacheHits = "formanova.model.cache.hits";
    public const string CacheMisses = "formanova.model.cache.misses";

    /// <summary>An hour of whole minutes, plus the one being filled.</summary>
    public const int Minutes = 60;

    /// <summary>Upper bounds of the latency buckets, in seconds (the percentiles interpolate within a bucket).</summary>
    private static readonly double[] Bounds =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    /// <summary>The cache counters are cumulative and observed, not pushed: read this often.</summary>
    private static readonly TimeSpan CachePoll = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly Sample[] _ring = new Sample[Minutes + 1];
    private readonly MeterListener _listener;
    private readonly TimeProvider _time;
    private readonly long _startedMinute;
    private long _cacheHits;
    private long _cacheMisses;

    public PredictionStats(IMeterFactory meters, TimeProvider time)
    {
        _time = time;
        _startedMinute = MinuteOf(time.GetUtcNow());
        for (var i = 0; i < _ring.Length; i++)
        {
            _ring[i] = new Sample(Bounds.Length + 1);
        }

        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == FormanovaTelemetry.MeterName && ReferenceEquals(instrument.Meter.Scope, meters)
                    && instrument.Name is Inferences or InferenceDuration or CacheHits or CacheMisses)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>(OnLong);
        _listener.SetMeasurementEventCallback<double>(OnDouble);
        _listener.Start();
    }

    /// <summary>The hour up to now, and the per-minute samples for the charts, oldest first.</summary>
    public PredictionSummary Summary()
    {
        _listener.RecordObservableInstruments();
        var now = MinuteOf(_time.GetUtcNow());
        var first = Math.Max(now - Minutes + 1, _startedMinute);
        var buckets = new long[Bounds.Length + 1];
        var minutes = new List<MinuteSample>(Minutes);
        long requests = 0, failures = 0, fallbacks = 0;
        long? baseHits = first == _startedMinute ? 0 : null, baseMisses = first == _startedMinute ? 0 : null;
        lock (_lock)
        {
            for (var minute = now - Minutes + 1; minute <= now; minute++)
            {
                var sample = _ring[Slot(minute)];
                var current = sample.Minute == minute;
                minutes.Add(new MinuteSample(
                    DateTimeOffset.FromUnixTimeSeconds(minute * 60),
                    current ? sample.Requests : 0,
                    current ? sample.Failures : 0,
                    current ? Percentile(sample.Buckets, 0.95) : null));
                if (!current)
                {
                    continue;
                }

                // The cache totals where the window starts: those of its oldest minute that was filled.
                baseHits ??= sample.StartHits;
                baseMisses ??= sample.StartMisses;
                requests += sample.Requests;
                failures += sample.Failures;
                fallbacks += sample.Fallbacks;
                for (var b = 0; b < buckets.Length; b++)
                {
                    buckets[b] += sample.Buckets[b];
                }
            }
        }

        var hits = Interlocked.Read(ref _cacheHits) - (baseHits ?? Interlocked.Read(ref _cacheHits));
        var misses = Interlocked.Read(ref _cacheMisses) - (baseMisses ?? Interlocked.Read(ref _cacheMisses));
        var window = Math.Max(1, now - first + 1);
        return new PredictionSummary(
            requests,
            requests / (double)window,
            requests > 0 ? failures / (double)requests : null,
            fallbacks,
            Percentile(buckets, 0.5),
            Percentile(buckets, 0.95),
            hits + misses > 0 ? hits / (double)(hits + misses) : null,
            hits + misses,
            (int)window,
            minutes);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(CachePoll, _time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            _listener.RecordObservableInstruments();
        }
    }

    public override void Dispose()
    {
        _listener.Dispose();
        base.Dispose();
    }

    private void OnLong(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        switch (instrument.Name)
        {
            case CacheHits:
                Observe(ref _cacheHits, value);
                return;
            case CacheMisses:
                Observe(ref _cacheMisses, value);
                return;
            case Inferences:
                var outcome = Tag(tags, "outcome");
                lock (_lock)
                {
                    var sample = Current();
                    sample.Requests += value;
                    if (outcome == "failure")
                    {
                        sample.Failures += value;
                    }
                    else if (outcome == "fallback")
                    {
                        sample.Fallbacks += value;
                    }
                }

                return;
        }
    }

    private void OnDouble(Instrument instrument, double seconds, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        if (instrument.Name != InferenceDuration || double.IsNaN(seconds))
        {
            return;
        }

        var bucket = Array.BinarySearch(Bounds, seconds);
        bucket = bucket >= 0 ? bucket : ~bucket;
        lock (_lock)
        {
            Current().Buckets[bucket]++;
        }
    }

    /// <summary>
    /// A cumulative total as last observed; the poll also opens each minute's sample, which notes the totals it began with.
    /// </summary>
    private void Observe(ref long total, long value)
    {
        lock (_lock)
        {
            Current();
            Interlocked.Exchange(ref total, value);
        }
    }

    /// <summary>The sample of the current minute, emptied first if it still holds the minute an hour ago. Under the lock.</summary>
    private Sample Current()
    {
        var minute = MinuteOf(_time.GetUtcNow());
        var sample = _ring[Slot(minute)];
        if (sample.Minute != minute)
        {
            sample.Reset(minute, Volatile.Read(ref _cacheHits), Volatile.Read(ref _cacheMisses));
        }

        return sample;
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == name)
            {
                return tag.Value as string;
            }
        }

        return null;
    }

    /// <summary>The <paramref name="quantile"/> latency in milliseconds, interpolated within its bucket; null without samples.</summary>
    internal static double? Percentile(long[] buckets, double quantile)
    {
        var total = buckets.Sum();
        if (total == 0)
        {
            return null;
        }

        var rank = quantile * total;
        long seen = 0;
        for (var b = 0; b < buckets.Length; b++)
        {
            if (buckets[b] == 0 || seen + buckets[b] < rank)
            {
                seen += buckets[b];
                continue;
            }

            var lower = b == 0 ? 0 : Bounds[b - 1];
            var upper = b < Bounds.Length ? Bounds[b] : Bounds[^1] * 2;
            var within = (rank - seen) / buckets[b];
            return (lower + ((upper - lower) * within)) * 1000;
        }

        return Bounds[^1] * 1000;
    }

    private static long MinuteOf(DateTimeOffset time) => time.ToUnixTimeSeconds() / 60;

    private static int Slot(long minute) => (int)(minute % (Minutes + 1));

    private sealed class Sample(int buckets)
    {
        public long Minute { get; private set; } = -1;

        public long Requests { get; set; }

        public long Failures { get; set; }

        public long Fallbacks { get; set; }

        public long[] Buckets { get; } = new long[buckets];

        /// <summary>The cache totals as the minute began.</summary>
        public long StartHits { get; private set; }

        public long StartMisses { get; private set; }

        public void Reset(long minute, long cacheHits, long cacheMisses)
        {
            Minute = minute;
            Requests = 0;
            Failures = 0;
            Fallbacks = 0;
            Array.Clear(Buckets);
            StartHits = cacheHits;
            StartMisses = cacheMisses;
        }
    }
}
