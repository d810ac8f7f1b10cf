using System.Diagnostics.Metrics;

namespace Formanova.Modules.Shared.Telemetry;

/// <summary>The process-wide meter; instruments are created once here so names stay in one list.</summary>
internal sealed class FormanovaMetrics
{
    public const string MeterName = "Formanova";

    public FormanovaMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        CacheLookups = Meter.CreateCounter<long>("formanova.cache.lookups", "{lookup}", "Cache lookups by area, level and outcome (hit or miss).");
        CacheL2Failures = Meter.CreateCounter<long>("formanova.cache.l2.failures", "{failure}", "Redis (L2) operations that failed or timed out; the cache fell back to L1.");
    }

    public Meter Meter { get; }

    public Counter<long> CacheLookups { get; }

    public Counter<long> CacheL2Failures { get; }
}
