using Formanova.Modules.Shared.Telemetry;
using OpenTelemetry.Metrics;

namespace Formanova.Host.Telemetry;

/// <summary>
/// Runs every registered <see cref="KnownSeries"/> export when the host starts, so the counters that the alert rules
/// and the dashboard read are on /metrics at zero from the first scrape rather than from their first increment.
/// </summary>
internal sealed class KnownSeriesExporter(IServiceProvider services, IEnumerable<KnownSeries> exports) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // A measurement made before the OpenTelemetry meter provider listens is dropped: build it first.
        services.GetRequiredService<MeterProvider>();
        foreach (var export in exports)
        {
            export.Export(services);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
