using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Host.Monitoring;

/// <summary>
/// One check of a model (docs/monitoring.md): its active version's live windows over the policy's window against the
/// version's reference profile (drift, data quality), and its feedback against the training metrics (performance).
/// The result is stored in the time series and shown on the gauges.
/// </summary>
internal sealed class MonitoringChecker(
    IModelModule models,
    IModelMonitoringModule monitoring,
    IDataModule data,
    LiveProfiles live,
    MonitoringMetrics metrics,
    TimeProvider clock)
{
    /// <summary>Checks the model's active version now, over the policy's window; stores nothing.</summary>
    public async Task<MonitoringCheck> EvaluateAsync(MonitoringPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var until = clock.GetUtcNow();
        var from = until.AddMinutes(-policy.WindowMinutes);
        // This instance's counts so far join the check; other instances' arrive with their next flush.
        await live.FlushAsync(cancellationToken);
        return await EvaluateAsync(policy, from, until, cancellationToken);
    }

    /// <summary>Adds the check to the model's time series and shows it on the gauges.</summary>
    public async Task RecordAsync(MonitoringCheck check, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(check);
        await monitoring.AppendCheckAsync(check, cancellationToken);
        metrics.Record(check);
    }

    private async Task<MonitoringCheck> EvaluateAsync(
        MonitoringPolicy policy,
        DateTimeOffset from,
        DateTimeOffset until,
        CancellationToken cancellationToken)
    {
        var empty = new MonitoringCheck(policy.Model, null, until, from, until, "noActiveVersion", 0, [], null, null, [], []);
        ModelVersionInfo version;
        try
        {
            var active = await models.ResolveVersionAsync(policy.Model, cancellationToken: cancellationToken);
            version = await models.GetVersionAsync(policy.Model, active.Version, cancellationToken);
        }
        catch (ModuleException ex) when (ex.Kind == ErrorKind.NotFound)
        {
            return empty with { Note = ex.Message };
        }

        var performance = await PerformanceAsync(policy, version, from, until, cancellationToken);
        if (version.Report?.Profile is not { } profile)
        {
            return empty with
            {
                Version = version.Version,
                Status = performance?.Degraded == true ? "degraded" : "noProfile",
                Performance = performance,
                Breaches = performance?.Degraded == true ? [$"performance:{performance.Metric}"] : [],
                Note = "This version has no reference profile (trained before monitoring, uploaded or an ensemble): "
                    + "drift is not checked; retrain it to get one.",
            };
        }

        var windows = await monitoring.ReadWindowsAsync(policy.Model, version.Version, from, until, cancellationToken);
        var merged = DriftStatistics.Merge(windows);
        var rows = merged?.Rows ?? 0;
        var thresholds = policy.Thresholds;
        var features = new List<FeatureDrift>();
        double? predictionDrift = null;
        var breaches = new List<string>();
        if (merged is not null && rows >= thresholds.MinRows)
        {
            foreach (var reference in profile.Features)
            {
                if (merged.Features.FirstOrDefault(f => f.Name == reference.Name) is { } counts)
                {
                    var drift = DriftStatistics.Feature(reference, counts, rows, thresholds);
                    features.Add(drift);
                    breaches.AddRange(drift.Breaches.Select(b => $"feature:{drift.Feature}:{b}"));
                }
            }

            predictionDrift = DriftStatistics.Prediction(profile.Predictions, merged.Predictions);
            if (predictionDrift >= thresholds.PredictionDrift)
            {
                breaches.Add("prediction:drift");
            }
        }

        if (performance?.Degraded == true)
        {
            breaches.Add($"performance:{performance.Metric}");
        }

        var status = "ok";
        if (performance?.Degraded == true)
        {
            status = "degraded";
        }
        else if (breaches.Count > 0)
        {
            status = "drift";
        }
        else if (rows < thresholds.MinRows)
        {
            status = "insufficientData";
        }

        return new MonitoringCheck(
            policy.Model,
            version.Version,
            until,
            from,
            until,
            status,
            rows,
            [.. features.OrderByDescending(f => f.Psi)],
            predictionDrift,
            performance,
            breaches,
            [],
            rows < thresholds.MinRows ? $"{rows} sampled rows in the window; drift needs {thresholds.MinRows} (minRows)." : null);
    }

    private async Task<PerformanceCheck?> PerformanceAsync(
        MonitoringPolicy policy,
        ModelVersionInfo version,
        DateTimeOffset from,
        DateTimeOffset until,
        CancellationToken cancellationToken)
    {
        var (metric, trainingKey, higherIsBetter) = version.Task switch
        {
            ModelTask.BinaryClassification => ("accuracy", "accuracy", true),
            ModelTask.MulticlassClassification => ("accuracy", "microAccuracy", true),
            _ => ("rmse", "rmse", false),
        };
        if (!version.Metrics.TryGetValue(trainingKey, out var training))
        {
            return null;
        }

        var summary = await data.SummarizeOutcomesAsync(policy.Model, from, until, cancellationToken: cancellationToken);
        var group = summary.Groups.FirstOrDefault(g => g.Version == version.Version && g.Experiment is null);
        var liveValue = higherIsBetter ? group?.Accuracy : group?.Rmse;
        var withFeedback = group?.WithFeedback ?? 0;
        double? drop = liveValue is { } value && training != 0
            ? Math.Round((higherIsBetter ? training - value : value - training) / Math.Abs(training), 6)
            : null;
        var degraded = withFeedback >= policy.Thresholds.MinFeedback && drop > policy.Thresholds.MaxPerformanceDrop;
        return new PerformanceCheck(metric, training, liveValue, withFeedback, drop, degraded);
    }
}
