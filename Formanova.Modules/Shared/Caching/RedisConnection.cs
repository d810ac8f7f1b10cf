using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Formanova.Modules.Shared.Caching;

/// <summary>
/// The one Redis multiplexer of the process, shared by the cache, health checks and pub/sub. It never aborts on
/// a failed connect: StackExchange.Redis keeps reconnecting in the background while callers degrade.
/// </summary>
public sealed class RedisConnection : IAsyncDisposable
{
    private readonly CacheOptions _options;
    private readonly ILogger<RedisConnection> _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ConnectionMultiplexer? _multiplexer;

    internal RedisConnection(IOptions<CacheOptions> options, ILogger<RedisConnection> logger)
    {
        _options = options.Value;
        _logger = logger;
    }

    public bool IsConfigured => !string.IsNullOrWhiteSpace(_options.Redis);

    /// <summary>Raised once, when the multiplexer is created (tracing instruments it here).</summary>
    public event Action<IConnectionMultiplexer>? Connected;

    public async Task<IConnectionMultiplexer> GetAsync()
    {
        if (_multiplexer is { } existing)
        {
            return existing;
        }

        if (!IsConfigured)
        {
            throw new InvalidOperationException("Redis is not configured (Cache:Redis is empty).");
        }

        await _gate.WaitAsync();
        try
        {
            if (_multiplexer is null)
            {
                var configuration = ConfigurationOptions.Parse(_options.Redis!);
                configuration.AbortOnConnectFail = false;
                configuration.ConnectTimeout = Math.Max(_options.L2.TimeoutMilliseconds, 1000);
                configuration.SyncTimeout = _options.L2.TimeoutMilliseconds;
                configuration.AsyncTimeout = _options.L2.TimeoutMilliseconds;
                configuration.ConnectRetry = 1;
                _multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration);
                _multiplexer.ConnectionFailed += (_, e) => _logger.LogWarning(
                    "Redis connection to {Endpoint} failed: {FailureType}",
                    e.EndPoint,
                    e.FailureType);
                _multiplexer.ConnectionRestored += (_, e) => _logger.LogInformation("Redis connection to {Endpoint} restored", e.EndPoint);
                Connected?.Invoke(_multiplexer);
            }

            return _multiplexer;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_multiplexer is not null)
        {
            await _multiplexer.DisposeAsync();
        }

        _gate.Dispose();
    }
}
