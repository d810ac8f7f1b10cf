using System.Diagnostics.Metrics;

namespace Formanova.Modules.Shared.Telemetry;

/// <summary>The names the host's OpenTelemetry setup subscribes to.</summary>
public static class FormanovaTelemetry
{
    public const string MeterName = "Formanova";
    public const string ActivitySourceName = "Formanova";

    /// <summary>Spans of module work (model loads, imports, deliveries) that are not already HTTP or SQL spans.</summary>
    public static readonly System.Diagnostics.ActivitySource ActivitySource = new(ActivitySourceName);
}

/// <summary>The process-wide meter; instruments are created once here so names stay in one list.</summary>
internal sealed class FormanovaMetrics
{
    public const string MeterName = FormanovaTelemetry.MeterName;

    public FormanovaMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        CacheLookups = Meter.CreateCounter<long>(
            "formanova.cache.lookups",
            "{lookup}",
            "Cache lookups by area, level and outcome (hit or miss).");
        CacheL2Failures = Meter.CreateCounter<long>(
            "formanova.cache.l2.failures",
            "{failure}",
            "Redis (L2) operations that failed or timed out; the cache fell back to L1.");
    }

    public Meter Meter { get; }

    public Counter<long> CacheLookups { get; }

    public Counter<long> CacheL2Failures { get; }
}
