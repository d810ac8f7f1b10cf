using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Formanova.Modules.Model.Preloading;

/// <summary>
/// The start-up preload on /health/ready. Healthy while it runs, saying so, unless <c>Model:Preload:HoldReadiness</c>
/// asks readiness to wait for it: then Unhealthy (503) until it has finished. A preload that failed has finished too:
/// the versions load on their first request, as without preloading.
/// </summary>
internal sealed class PreloadHealthCheck(ModelPreloader preloader) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (loaded, planned, keys) = preloader.Progress;
        var data = new Dictionary<string, object>
        {
            ["stage"] = preloader.Stage.ToString().ToLowerInvariant(),
            ["versionsLoaded"] = loaded,
            ["versionsPlanned"] = planned,
            ["keysWarmed"] = keys,
        };
        return Task.FromResult(preloader.Stage switch
        {
            PreloadStage.Disabled => HealthCheckResult.Healthy("Preloading is off (Model:Preload:Enabled)", data),
            PreloadStage.Done => HealthCheckResult.Healthy($"Preloaded {loaded} of {planned} versions and {keys} cached predictions", data),
            _ when preloader.HoldsReadiness => HealthCheckResult.Unhealthy(
                $"Preloading ({loaded} of {planned} versions); Model:Preload:HoldReadiness waits for it",
                data: data),
            _ => HealthCheckResult.Healthy(
                $"Preloading in the background ({loaded} of {planned} versions); requests are served meanwhile",
                data),
        });
    }
}
