using Formanova.Modules.Model;
using Formanova.Modules.Shared;

namespace Formanova.Host.Feedback;

/// <summary>
/// The prediction log's wiring: the host's <see cref="PredictionLogWriter"/> is the Model module's prediction
/// observer and writes to the Data module, so neither module knows the other (docs/architecture.md).
/// </summary>
internal static class FeedbackSetup
{
    public static IServiceCollection AddPredictionLog(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<PredictionLogOptions, PredictionLogOptionsValidator>(configuration, PredictionLogOptions.SectionName);
        services.AddSingleton<PredictionLogWriter>();
        services.AddSingleton<IPredictionObserver>(sp => sp.GetRequiredService<PredictionLogWriter>());
        services.AddHostedService(sp => sp.GetRequiredService<PredictionLogWriter>());
        return services;
    }
}
