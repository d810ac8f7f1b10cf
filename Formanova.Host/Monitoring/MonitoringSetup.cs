using Formanova.Modules.Model;
using Formanova.Modules.Shared;

namespace Formanova.Host.Monitoring;

/// <summary>
/// Model monitoring's wiring (docs/monitoring.md): the host's <see cref="LiveProfiles"/> is the Model module's input
/// observer, and the checks compose the Model module's profiles with the Data module's feedback.
/// </summary>
internal static class MonitoringSetup
{
    public static IServiceCollection AddModelMonitoring(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<MonitoringOptions, MonitoringOptionsValidator>(configuration, MonitoringOptions.SectionName);
        services.AddSingleton<LiveProfiles>();
        services.AddSingleton<IPredictionInputObserver>(sp => sp.GetRequiredService<LiveProfiles>());
        services.AddHostedService(sp => sp.GetRequiredService<LiveProfiles>());
        services.AddSingleton<MonitoringMetrics>();
        services.AddSingleton<MonitoringChecker>();
        return services;
    }
}
