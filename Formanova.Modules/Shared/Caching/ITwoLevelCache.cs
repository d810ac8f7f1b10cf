namespace Formanova.Modules.Shared.Caching;

internal enum CacheLevel
{
    None,
    L1,
    L2,
}

internal readonly record struct CacheLookup<T>(bool Found, T? Value, CacheLevel Level)
{
    public static CacheLookup<T> Miss => new(false, default, CacheLevel.None);
}

/// <summary>
/// L1 (bounded in-memory) in front of L2 (Redis), written through. An L2 outage degrades to L1 alone and never
/// fails the caller. The <c>area</c> given at registration tags the metrics (e.g. "model").
/// </summary>
internal interface ITwoLevelCache
{
    ValueTask<CacheLookup<T>> GetAsync<T>(string area, string key, CancellationToken cancellationToken = default);

    ValueTask SetAsync<T>(string area, string key, T value, CancellationToken cancellationToken = default);

    ValueTask RemoveAsync(string area, string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Copies an entry from L2 into L1 ahead of its first lookup; true when L2 had it. Not counted as a lookup, so
    /// warming does not move the hit ratio.
    /// </summary>
    ValueTask<bool> WarmAsync<T>(string area, string key, CancellationToken cancellationToken = default);

    /// <summary>True while L2 is configured and not in its back-off window after a failure.</summary>
    bool L2Available { get; }

    /// <summary>
    /// Exports the metric series <paramref name="area"/> can produce at zero: lookups of each configured level by outcome,
    /// and L2 failures when there is an L2 (see <see cref="Telemetry.KnownSeries"/>).
    /// </summary>
    void ExportAtZero(string area);
}
