using System.Diagnostics;
using System.Diagnostics.Metrics;
using Formanova.Modules.Shared.Telemetry;

namespace Formanova.Modules.Model;

/// <summary>The Model module's instruments on the process meter.</summary>
internal sealed class ModelMetrics
{
    /// <summary>The window of <c>formanova.model.cache.hit_rate</c>.</summary>
    public static readonly TimeSpan HitRateWindow = TimeSpan.FromMinutes(5);

    /// <summary>The <c>trigger</c> label of the preload instruments.</summary>
    public static readonly string[] PreloadTriggers = ["start", "switch"];

    /// <summary>The <c>outcome</c> label of <c>formanova.model.preload.versions</c>.</summary>
    public static readonly string[] PreloadOutcomes = ["loaded", "failed"];

    private readonly Queue<(long At, long Hits, long Misses)> _hitRateSamples = new();
    private long _cacheHits;
    private long _cacheMisses;

    public ModelMetrics(FormanovaMetrics metrics)
    {
        var meter = metrics.Meter;
        // Names, units and labels follow the contract in docs/observability.md (its model_* table).
        Predictions = meter.CreateCounter<long>(
            "formanova.model.predictions",
            "{prediction}",
            "Rows predicted, by model, version and whether the cache answered.");
        Inferences = meter.CreateCounter<long>(
            "formanova.model.inferences",
            "{request}",
            "Prediction requests (single or batch) by model, version and outcome: success, fallback or failure.");
        InferenceDuration = meter.CreateHistogram<double>(
            "formanova.model.inference.duration",
            "s",
            "Time to answer one prediction request (single or batch), by model, version and outcome.");
        InFlight = meter.CreateUpDownCounter<long>(
            "formanova.model.inference.in_flight",
            "{request}",
            "Prediction requests being answered now (model_queue_depth in docs/observability.md), by model.");
        Fallbacks = meter.CreateCounter<long>(
            "formanova.model.fallbacks",
            "{fallback}",
            "Requests the previous stable version served because the active one failed to load or threw.");
        Loads = meter.CreateCounter<long>("formanova.model.loads", "{load}", "Model versions loaded into memory, by outcome.");
        TrainingDuration = meter.CreateHistogram<double>(
            "formanova.model.training.duration",
            "s",
            "Wall time of a training run, by trainer.");
        meter.CreateObservableGauge(
            "formanova.model.cache.hit_ratio",
            () => HitRatio,
            "{ratio}",
            "Share of cacheable prediction lookups answered by the cache since start.");
        meter.CreateObservableCounter(
            "formanova.model.cache.hits",
            () => Interlocked.Read(ref _cacheHits),
            "{lookup}",
            "Cacheable prediction lookups answered by L1 or L2.");
        meter.CreateObservableCounter(
            "formanova.model.cache.misses",
            () => Interlocked.Read(ref _cacheMisses),
            "{lookup}",
            "Cacheable prediction lookups that ran the model.");
        _hitRateSamples.Enqueue((Environment.TickCount64, 0, 0));
        meter.CreateObservableGauge(
            "formanova.model.cache.hit_rate",
            RecentHitRate,
            "{ratio}",
            "Share of this instance's cacheable prediction lookups answered by the cache over the last 5 minutes (none without lookups).");
        PreloadedVersions = meter.CreateCounter<long>(
            "formanova.model.preload.versions",
            "{version}",
            "Versions loaded ahead of traffic, by trigger (start, switch) and outcome (loaded, failed).");
        WarmedKeys = meter.CreateCounter<long>(
            "formanova.model.preload.keys",
            "{key}",
            "Cached predictions copied from L2 into L1 by the start-up preload.");
        PreloadDuration = meter.CreateHistogram<double>(
            "formanova.model.preload.duration",
            "s",
            "Time of one preload, by trigger: the start-up preload (versions and keys) or loading a version before a switch.");
        // Tagged by experiment and arm: at most one live experiment per model and 8 arms each, so the series stay few.
        ExperimentPredictions = meter.CreateCounter<long>(
            "formanova.experiment.predictions",
            "{prediction}",
            "Predictions of an experiment's arms, by experiment and arm: the routed ones and the shadow copies.");
        ShadowDropped = meter.CreateCounter<long>(
            "formanova.experiment.shadow_dropped",
            "{prediction}",
            "Shadow predictions not scored because the shadow queue was full, by experiment.");
        ShadowFailures = meter.CreateCounter<long>(
            "formanova.experiment.shadow_failures",
            "{prediction}",
            "Shadow predictions that failed (logged, never surfaced to the caller), by experiment.");
    }

    public Counter<long> ExperimentPredictions { get; }

    public Counter<long> ShadowDropped { get; }

    public Counter<long> ShadowFailures { get; }

    /// <summary>Counts predictions of one experiment arm.</summary>
    public void ExperimentPredicted(string experiment, string arm, long count = 1) =>
        ExperimentPredictions.Add(count, new("experiment", experiment), new("arm", arm));

    public Counter<long> Predictions { get; }

    public Counter<long> Inferences { get; }

    public Histogram<double> InferenceDuration { get; }

    public UpDownCounter<long> InFlight { get; }

    /// <summary>Records one finished request on the duration histogram and the outcome counter.</summary>
    public void Inference(string model, string version, string outcome, TimeSpan elapsed)
    {
        var tags = new TagList { { "model", model }, { "version", version }, { "outcome", outcome } };
        InferenceDuration.Record(elapsed.TotalSeconds, tags);
        Inferences.Add(1, tags);
    }

    public Counter<long> Fallbacks { get; }

    public Counter<long> Loads { get; }

    public Histogram<double> TrainingDuration { get; }

    public Counter<long> PreloadedVersions { get; }

    public Counter<long> WarmedKeys { get; }

    public Histogram<double> PreloadDuration { get; }

    public long CacheHits => Interlocked.Read(ref _cacheHits);

    public long CacheMisses => Interlocked.Read(ref _cacheMisses);

    public double HitRatio
    {
        get
        {
            var hits = CacheHits;
            var total = hits + CacheMisses;
            return total == 0 ? 0 : (double)hits / total;
        }
    }

    public void CacheLookup(bool hit) => Interlocked.Increment(ref hit ? ref _cacheHits : ref _cacheMisses);

    /// <summary>Adds 0 to each preload counter series, so the first preload is not lost to rate() (docs/observability.md).</summary>
    public void ExportPreloadAtZero()
    {
        foreach (var trigger in PreloadTriggers)
        {
            foreach (var outcome in PreloadOutcomes)
            {
                PreloadedVersions.Add(0, new("trigger", trigger), new("outcome", outcome));
            }
        }

        WarmedKeys.Add(0);
    }

    // Computed when the metric is collected, from the counters above and the samples of earlier collections: requests pay
    // nothing for it. The oldest sample kept is the newest one at least a window old.
    private IEnumerable<Measurement<double>> RecentHitRate()
    {
        var now = Environment.TickCount64;
        long hits = CacheHits, misses = CacheMisses;
        lock (_hitRateSamples)
        {
            _hitRateSamples.Enqueue((now, hits, misses));
            var windowStart = now - (long)HitRateWindow.TotalMilliseconds;
            while (_hitRateSamples.Count > 2 && (_hitRateSamples.ElementAt(1).At <= windowStart || _hitRateSamples.Count > 4096))
            {
                _hitRateSamples.Dequeue();
            }

            var (_, oldHits, oldMisses) = _hitRateSamples.Peek();
            var lookups = hits - oldHits + (misses - oldMisses);
            return lookups == 0 ? [] : [new Measurement<double>((double)(hits - oldHits) / lookups)];
        }
    }
}
