using System.Diagnostics;
using System.Diagnostics.Metrics;
using Formanova.Modules.Shared.Telemetry;

namespace Formanova.Modules.Model;

/// <summary>The Model module's instruments on the process meter.</summary>
internal sealed class ModelMetrics
{
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
    }

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
}
