using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Formanova.Host.Temporal;

/// <summary>
/// Whether Temporal answers (a connect and GetSystemInfo within the connect timeout) and the worker polls, judged by
/// the roles the process runs. A worker-only process is not ready without them: it has nothing else to do, and
/// readiness holds back its rollout. A process with the api role stays ready and reports Temporal as Degraded:
/// readiness only decides whether requests reach it, and taking it out of service would stop the direct predictions
/// and every read that does not need Temporal without bringing Temporal back. A process with both roles is judged as
/// an API for the same reason (no request ever reaches its worker); the worker's state is in the check's data.
/// </summary>
internal sealed class TemporalHealthCheck(TemporalAvailability temporal, IConfiguration configuration, IServiceProvider services)
    : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var probe = await temporal.ProbeAsync(cancellationToken);
        var worker = services.GetService<TemporalWorkerHost>();
        var api = TemporalSetup.HasRole(configuration, "api");
        var data = new Dictionary<string, object> { ["roles"] = worker is null ? "api" : api ? "api,worker" : "worker" };
        if (worker is not null)
        {
            data["worker"] = worker.State;
        }

        if (!probe.Reachable)
        {
            var unreachable = $"Temporal at {temporal.Target} is unreachable ({probe.Reason})";
            return api
                ? HealthCheckResult.Degraded($"{unreachable}: workflow endpoints answer 503, the rest of the API is served", data: data)
                : HealthCheckResult.Unhealthy($"{unreachable}: the worker cannot poll", data: data);
        }

        if (worker is { Polling: false })
        {
            var idle = $"Temporal at {temporal.Target} answers, but the worker is not polling ({worker.State})";
            return api ? HealthCheckResult.Degraded(idle, data: data) : HealthCheckResult.Unhealthy(idle, data: data);
        }

        return HealthCheckResult.Healthy($"Temporal at {temporal.Target}, namespace {temporal.Namespace}", data);
    }
}
