using Formanova.Modules.Shared.Caching;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Formanova.Modules.Shared.Health;

/// <summary>
/// Redis is an accelerator, not a dependency: when it is down the cache serves from L1, so readiness reports
/// Degraded (HTTP 200) rather than Unhealthy and the instance keeps taking traffic.
/// </summary>
internal sealed class RedisHealthCheck(RedisConnection redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var multiplexer = await redis.GetAsync();
            var latency = await multiplexer.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            return HealthCheckResult.Healthy($"ping {latency.TotalMilliseconds:F1} ms");
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Degraded($"Redis is unreachable ({ex.GetType().Name}); the cache serves from L1 alone");
        }
    }
}
