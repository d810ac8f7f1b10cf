using System.Text.Json;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Shared.Caching;

internal sealed class TwoLevelCache : ITwoLevelCache, IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly CacheOptions _options;
    private readonly MemoryCache? _l1;
    private readonly IDistributedCache? _l2;
    private readonly FormanovaMetrics _metrics;
    private readonly TimeProvider _clock;
    private readonly ILogger<TwoLevelCache> _logger;
    private readonly MemoryCacheEntryOptions _l1Entry;
    private readonly DistributedCacheEntryOptions _l2Entry;
    private long _l2RetryAtTicks;

    public TwoLevelCache(
        IOptions<CacheOptions> options,
        FormanovaMetrics metrics,
        TimeProvider clock,
        ILogger<TwoLevelCache> logger,
        IDistributedCache? l2 = null)
    {
        _options = options.Value;
        _metrics = metrics;
        _clock = clock;
        _logger = logger;
        if (_options.L1.Enabled)
        {
            // A private MemoryCache: the size limit counts entries, and a shared IMemoryCache would make every other
            // user of it declare sizes too.
            _l1 = new MemoryCache(new MemoryCacheOptions { SizeLimit = _options.L1.MaxEntries, Clock = new TimeProviderClock(clock) });
        }

        _l2 = _options.L2.Enabled ? l2 : null;
        _l1Entry = new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(_options.L1.TtlSeconds) };
        _l2Entry = new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(_options.L2.TtlSeconds) };
    }

    public bool L2Available => _l2 is not null && _clock.GetUtcNow().UtcTicks >= Interlocked.Read(ref _l2RetryAtTicks);

    public async ValueTask<CacheLookup<T>> GetAsync<T>(string area, string key, CancellationToken cancellationToken = default)
    {
        if (_l1 is not null && _l1.TryGetValue(key, out var local) && local is T typed)
        {
            Record(area, CacheLevel.L1, hit: true);
            return new CacheLookup<T>(true, typed, CacheLevel.L1);
        }

        if (_l1 is not null)
        {
            Record(area, CacheLevel.L1, hit: false);
        }

        if (!L2Available)
        {
            return CacheLookup<T>.Miss;
        }

        var bytes = await TryL2(area, () => _l2!.GetAsync(key, cancellationToken), cancellationToken);
        if (bytes is null)
        {
            Record(area, CacheLevel.L2, hit: false);
            return CacheLookup<T>.Miss;
        }

        var value = JsonSerializer.Deserialize<T>(bytes, Json);
        Record(area, CacheLevel.L2, hit: true);
        _l1?.Set(key, value, _l1Entry);
        return new CacheLookup<T>(true, value, CacheLevel.L2);
    }

    public async ValueTask SetAsync<T>(string area, string key, T value, CancellationToken cancellationToken = default)
    {
        _l1?.Set(key, value, _l1Entry);
        if (L2Available)
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(value, Json);
            await TryL2(area, async () =>
            {
                await _l2!.SetAsync(key, bytes, _l2Entry, cancellationToken);
                return Array.Empty<byte>();
            }, cancellationToken);
        }
    }

    public async ValueTask<bool> WarmAsync<T>(string area, string key, CancellationToken cancellationToken = default)
    {
        if (_l1 is null || !L2Available || _l1.TryGetValue(key, out _))
        {
            return false;
        }

        var bytes = await TryL2(area, () => _l2!.GetAsync(key, cancellationToken), cancellationToken);
        if (bytes is null)
        {
            return false;
        }

        _l1.Set(key, JsonSerializer.Deserialize<T>(bytes, Json), _l1Entry);
        return true;
    }

    public async ValueTask RemoveAsync(string area, string key, CancellationToken cancellationToken = default)
    {
        _l1?.Remove(key);
        if (L2Available)
        {
            await TryL2(area, async () =>
            {
                await _l2!.RemoveAsync(key, cancellationToken);
                return Array.Empty<byte>();
            }, cancellationToken);
        }
    }

    private async Task<byte[]?> TryL2(string area, Func<Task<byte[]?>> operation, CancellationToken cancellationToken)
    {
        try
        {
            var result = await operation().WaitAsync(TimeSpan.FromMilliseconds(_options.L2.TimeoutMilliseconds), _clock, cancellationToken);
            if (Interlocked.Exchange(ref _l2RetryAtTicks, 0) != 0)
            {
                _logger.LogInformation("Redis cache (L2) is reachable again");
            }

            return result;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            var retryAt = _clock.GetUtcNow().AddSeconds(_options.L2.RetryAfterSeconds).UtcTicks;
            var previous = Interlocked.Exchange(ref _l2RetryAtTicks, retryAt);
            _metrics.CacheL2Failures.Add(1, new KeyValuePair<string, object?>("area", area));
            if (previous == 0)
            {
                _logger.LogWarning(
                    ex,
                    "Redis cache (L2) failed; serving from L1 alone and retrying in {Seconds} s",
                    _options.L2.RetryAfterSeconds);
            }

            return null;
        }
    }

    public void ExportAtZero(string area)
    {
        foreach (var hit in (ReadOnlySpan<bool>)[true, false])
        {
            if (_l1 is not null)
            {
                Record(area, CacheLevel.L1, hit, count: 0);
            }

            if (_l2 is not null)
            {
                Record(area, CacheLevel.L2, hit, count: 0);
            }
        }

        if (_l2 is not null)
        {
            _metrics.CacheL2Failures.Add(0, new KeyValuePair<string, object?>("area", area));
        }
    }

    private void Record(string area, CacheLevel level, bool hit, long count = 1) =>
        _metrics.CacheLookups.Add(
            count,
            new KeyValuePair<string, object?>("area", area),
            new KeyValuePair<string, object?>("level", level == CacheLevel.L1 ? "l1" : "l2"),
            new KeyValuePair<string, object?>("outcome", hit ? "hit" : "miss"));

    public void Dispose() => _l1?.Dispose();

    // MemoryCache predates TimeProvider; bridging keeps TTLs on the same clock as the rest of the process.
    private sealed class TimeProviderClock(TimeProvider clock) : Microsoft.Extensions.Internal.ISystemClock
    {
        public DateTimeOffset UtcNow => clock.GetUtcNow();
    }
}
