using System.Diagnostics.Metrics;
using Formanova.Modules.Shared.Caching;
using Formanova.Modules.Shared.Telemetry;
using Formanova.Tests.Support;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Formanova.Tests.Shared.Caching;

public sealed class TwoLevelCacheTests
{
    private readonly List<IDisposable> _disposables = [];
    private readonly List<IAsyncDisposable> _asyncDisposables = [];

    [TearDown]
    public async Task TearDown()
    {
        _disposables.ForEach(d => d.Dispose());
        foreach (var d in _asyncDisposables)
        {
            await d.DisposeAsync();
        }
    }

    private (TwoLevelCache Cache, FakeTimeProvider Clock, MetricCollector Metrics) Create(
        string? redis = null,
        int maxEntries = 1000,
        int l1Ttl = 600,
        string instance = "test:",
        int? l2TimeoutMs = null)
    {
        var options = Options.Create(new CacheOptions
        {
            Redis = redis,
            L1 = new CacheOptions.L1Options { MaxEntries = maxEntries, TtlSeconds = l1Ttl },
            L2 = new CacheOptions.L2Options
            {
                InstanceName = instance,
                RetryAfterSeconds = 5,
                TimeoutMilliseconds = l2TimeoutMs ?? TestServices.RedisTimeoutMilliseconds
            },
        });
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        _disposables.Add(services);
        var metrics = new FormanovaMetrics(services.GetRequiredService<IMeterFactory>());
        var collector = new MetricCollector(metrics.Meter);
        _disposables.Add(collector);

        RedisCache? l2 = null;
        if (redis is not null)
        {
            var connection = new RedisConnection(options, NullLogger<RedisConnection>.Instance);
            _asyncDisposables.Add(connection);
            l2 = new RedisCache(
                Options.Create(new RedisCacheOptions { InstanceName = instance, ConnectionMultiplexerFactory = connection.GetAsync }));
            _disposables.Add(l2);
        }

        var cache = new TwoLevelCache(options, metrics, clock, NullLogger<TwoLevelCache>.Instance, l2);
        _disposables.Add(cache);
        return (cache, clock, collector);
    }

    [Test]
    public async Task GetAsync_WhenValueWasSet_HitsL1()
    {
        var (cache, _, metrics) = Create();
        await cache.SetAsync("model", "k1", new Sample("a", 1));

        var lookup = await cache.GetAsync<Sample>("model", "k1");

        Assert.That(lookup, Is.EqualTo(new CacheLookup<Sample>(true, new Sample("a", 1), CacheLevel.L1)));
        Assert.That(metrics.Count("hit", "l1"), Is.EqualTo(1));
    }

    [Test]
    public async Task GetAsync_WhenKeyWasNeverSet_Misses()
    {
        var (cache, _, metrics) = Create();

        var lookup = await cache.GetAsync<Sample>("model", "absent");

        Assert.That(lookup.Found, Is.False);
        Assert.That(metrics.Count("miss", "l1"), Is.EqualTo(1));
    }

    [Test]
    public async Task SetAsync_WhenMoreEntriesThanTheLimit_KeepsAtMostTheLimit()
    {
        var (cache, _, _) = Create(maxEntries: 10);
        for (var i = 0; i < 50; i++)
        {
            await cache.SetAsync("model", $"k{i}", new Sample("v", i));
        }

        var hits = 0;
        for (var i = 0; i < 50; i++)
        {
            hits += (await cache.GetAsync<Sample>("model", $"k{i}")).Found ? 1 : 0;
        }

        Assert.That(hits, Is.InRange(1, 10));
    }

    [Test]
    public async Task GetAsync_WhenL1TtlHasPassed_Misses()
    {
        var (cache, clock, _) = Create(l1Ttl: 600);
        await cache.SetAsync("model", "k", new Sample("v", 1));

        clock.Advance(TimeSpan.FromSeconds(601));

        Assert.That((await cache.GetAsync<Sample>("model", "k")).Found, Is.False);
    }

    [Test]
    [Category("Integration")]
    public async Task GetAsync_WhenAnotherInstanceWroteTheKey_HitsL2ThenL1()
    {
        var redis = TestServices.Redis();
        var instance = $"test-{Guid.NewGuid():N}:";
        var (writer, _, _) = Create(redis, instance: instance);
        var (reader, _, metrics) = Create(redis, instance: instance);
        await writer.SetAsync("model", "shared", new Sample("from-writer", 7));

        var first = await reader.GetAsync<Sample>("model", "shared");
        var second = await reader.GetAsync<Sample>("model", "shared");

        Assert.Multiple(() =>
        {
            Assert.That(first, Is.EqualTo(new CacheLookup<Sample>(true, new Sample("from-writer", 7), CacheLevel.L2)));
            Assert.That(second.Level, Is.EqualTo(CacheLevel.L1));
            Assert.That(metrics.Count("hit", "l2"), Is.EqualTo(1));
        });
    }

    [Test]
    [Category("Integration")]
    public async Task RemoveAsync_WhenKeyIsInBothLevels_RemovesItFromBoth()
    {
        var redis = TestServices.Redis();
        var instance = $"test-{Guid.NewGuid():N}:";
        var (cache, _, _) = Create(redis, instance: instance);
        var (other, _, _) = Create(redis, instance: instance);
        await cache.SetAsync("model", "gone", new Sample("v", 1));

        await cache.RemoveAsync("model", "gone");

        Assert.That((await cache.GetAsync<Sample>("model", "gone")).Found, Is.False);
        Assert.That((await other.GetAsync<Sample>("model", "gone")).Found, Is.False);
    }

    [Test]
    public async Task GetAsync_WhenRedisIsUnreachable_ServesFromL1AndBacksOff()
    {
        // Port 1 on loopback refuses connections at once: a Redis that is down.
        var (cache, clock, metrics) = Create(redis: "127.0.0.1:1,connectTimeout=200", l2TimeoutMs: 1000);

        await cache.SetAsync("model", "k", new Sample("local", 1));
        var lookup = await cache.GetAsync<Sample>("model", "k");
        var miss = await cache.GetAsync<Sample>("model", "other");

        Assert.Multiple(() =>
        {
            Assert.That(lookup, Is.EqualTo(new CacheLookup<Sample>(true, new Sample("local", 1), CacheLevel.L1)));
            Assert.That(miss.Found, Is.False);
            Assert.That(cache.L2Available, Is.False, "L2 is skipped during the back-off window");
            Assert.That(metrics.Failures, Is.EqualTo(1), "one failure opens the window; later calls skip Redis");
        });

        clock.Advance(TimeSpan.FromSeconds(6));
        Assert.That(cache.L2Available, Is.True, "after the window Redis is tried again");
    }

    [Test]
    public void ExportAtZero_WithL1Only_ExportsTheL1LookupSeriesAtZero()
    {
        var (cache, _, metrics) = Create();

        cache.ExportAtZero("model");

        Assert.That(metrics.Series, Is.EquivalentTo(new[]
        {
            "formanova.cache.lookups area=model level=l1 outcome=hit: 0",
            "formanova.cache.lookups area=model level=l1 outcome=miss: 0",
        }));
    }

    [Test]
    public void ExportAtZero_WithL1AndL2_ExportsBothLevelsAndTheL2FailuresAtZero()
    {
        // Nothing is sent to Redis: the series exist before the first call.
        var (cache, _, metrics) = Create(redis: "127.0.0.1:1,connectTimeout=200");

        cache.ExportAtZero("model");

        Assert.That(metrics.Series, Is.EquivalentTo(new[]
        {
            "formanova.cache.lookups area=model level=l1 outcome=hit: 0",
            "formanova.cache.lookups area=model level=l1 outcome=miss: 0",
            "formanova.cache.lookups area=model level=l2 outcome=hit: 0",
            "formanova.cache.lookups area=model level=l2 outcome=miss: 0",
            "formanova.cache.l2.failures area=model: 0",
        }));
    }

    internal sealed record Sample(string Name, int Value);

    /// <summary>Collects the cache counters of one <see cref="FormanovaMetrics"/> instance.</summary>
    private sealed class MetricCollector : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<(string Name, long Value, Dictionary<string, object?> Tags)> _measurements = [];

        public MetricCollector(Meter meter)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter == meter)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                lock (_measurements)
                {
                    _measurements.Add((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value)));
                }
            });
            _listener.Start();
        }

        public long Failures => Sum("formanova.cache.l2.failures", _ => true);

        /// <summary>Every measurement as "instrument label=value ...: measurement", labels in name order.</summary>
        public IEnumerable<string> Series
        {
            get
            {
                lock (_measurements)
                {
                    return _measurements.Select(m =>
                    {
                        var labels = m.Tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}={t.Value}");
                        return $"{m.Name} {string.Join(' ', labels)}: {m.Value}";
                    }).ToList();
                }
            }
        }

        public long Count(string outcome, string level) =>
            Sum("formanova.cache.lookups", tags => Equals(tags["outcome"], outcome) && Equals(tags["level"], level));

        private long Sum(string name, Func<Dictionary<string, object?>, bool> match)
        {
            lock (_measurements)
            {
                return _measurements.Where(m => m.Name == name && match(m.Tags)).Sum(m => m.Value);
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}
