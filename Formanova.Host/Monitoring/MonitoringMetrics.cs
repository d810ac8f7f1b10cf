using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Monitoring;

/// <summary>
/// The latest check of each monitored model as gauges (docs/monitoring.md, "Metrics"). Tags are bounded: one series
/// per model (and per feature, at most <c>Monitoring:MaxGaugeFeatures</c> of a model, the most drifted first).
/// </summary>
internal sealed class MonitoringMetrics
{
    private readonly ConcurrentDictionary<string, MonitoringCheck> _latest = new(StringComparer.Ordinal);
    private readonly int _maxFeatures;

    public MonitoringMetrics(IMeterFactory meters, IOptions<MonitoringOptions> options)
    {
        _maxFeatures = options.Value.MaxGaugeFeatures;
        var meter = meters.Create(FormanovaTelemetry.MeterName);
        meter.CreateObservableGauge(
            "formanova.model.feature_drift",
            ObserveFeatures,
            null,
            "PSI of each feature's live distribution against the training profile, by model and feature (latest check).");
        meter.CreateObservableGauge(
            "formanova.model.prediction_drift",
            () => _latest.Values.Where(c => c.PredictionDrift is not null).Select(c =>
                new Measurement<double>(c.PredictionDrift!.Value, new KeyValuePair<string, object?>("model", c.Model))),
            null,
            "PSI of the live predictions against the test split's, by model (latest check).");
        meter.CreateObservableGauge(
            "formanova.model.quality",
            () => _latest.Values.Where(c => c.Performance?.Live is not null).Select(c => new Measurement<double>(
                c.Performance!.Live!.Value,
                new KeyValuePair<string, object?>("model", c.Model),
                new KeyValuePair<string, object?>("metric", c.Performance.Metric))),
            null,
            "The live quality metric from feedback (accuracy or rmse), by model and metric (latest check).");
        meter.CreateObservableGauge(
            "formanova.model.performance_degraded",
            () => _latest.Values.Where(c => c.Performance is not null).Select(c => new Measurement<int>(
                c.Performance!.Degraded ? 1 : 0,
                new KeyValuePair<string, object?>("model", c.Model),
                new KeyValuePair<string, object?>("metric", c.Performance.Metric))),
            null,
            "1 when the latest check found the live metric worse than training by more than the policy's "
                + "maxPerformanceDrop, over at least minFeedback outcomes; else 0. By model and metric.");
        meter.CreateObservableGauge(
            "formanova.model.monitoring_breaches",
            () => _latest.Values.Select(c =>
                new Measurement<int>(c.Breaches.Count, new KeyValuePair<string, object?>("model", c.Model))),
            "{breach}",
            "Thresholds the latest check crossed, by model.");
    }

    public void Record(MonitoringCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        _latest[check.Model] = check;
    }

    public void Forget(string model) => _latest.TryRemove(model, out _);

    private IEnumerable<Measurement<double>> ObserveFeatures() =>
        _latest.Values.SelectMany(c => c.Features.Take(_maxFeatures).Select(f => new Measurement<double>(
            f.Psi,
            new KeyValuePair<string, object?>("model", c.Model),
            new KeyValuePair<string, object?>("feature", f.Feature))));
}
