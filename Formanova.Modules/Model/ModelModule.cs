using Formanova.Modules.Model.Api;
using Formanova.Modules.Model.Experiments;
using Formanova.Modules.Model.Inference;
using Formanova.Modules.Model.Onnx;
using Formanova.Modules.Model.Preloading;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared;
using Formanova.Modules.Shared.Caching;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model;

/// <summary>Composition root of the Model module: its services, migrations and REST endpoints.</summary>
public static class ModelModule
{
    public static IServiceCollection AddModelModule(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddMigrations("model", "Model/Migrations");
        services.AddValidatedOptions<ModelOptions, ModelOptionsValidator>(configuration, ModelOptions.SectionName);

        services.AddSingleton<ModelMetrics>();
        services.AddKnownSeries(sp => sp.GetRequiredService<ITwoLevelCache>().ExportAtZero(ModelService.CacheArea));
        services.AddSingleton<ModelTrainer>();
        services.AddSingleton<CandidateEvaluator>();
        services.AddSingleton<ModelRegistry>();
        services.AddSingleton<ModelRuntime>();
        services.AddSingleton<OnnxExporter>();
        services.AddSingleton<EnsemblePlanner>();
        services.AddSingleton<EnsembleTrainer>();
        services.AddSingleton<IArtifactStore>(sp =>
            sp.GetRequiredService<IOptions<ModelOptions>>().Value.ArtifactStore == ArtifactStoreKind.Database
                ? ActivatorUtilities.CreateInstance<DatabaseArtifactStore>(sp)
                : new LocalArtifactStore());
        // The host replaces it with the one that logs predictions; a registration before or after this one wins.
        services.TryAddSingleton<IPredictionObserver, NoPredictionObserver>();
        services.AddSingleton<ExperimentStore>();
        services.AddSingleton<ExperimentPlanner>();
        services.AddSingleton<ExperimentRouter>();
        services.AddSingleton<ShadowQueue>();
        services.AddHostedService(sp => sp.GetRequiredService<ShadowQueue>());
        services.AddSingleton<IExperimentModule, ExperimentService>();
        services.AddSingleton(sp => new ModelPreloadSource("experiments", async ct =>
        {
            var live = await sp.GetRequiredService<ExperimentStore>().ListLiveAsync(ct);
            return [.. live.SelectMany(e => e.Arms.Select(a => new PreloadCandidate(e.Model, a.Version)))];
        }));
        services.AddSingleton<IModelModule, ModelService>();
        services.AddSingleton<ModelBootstrapper>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelBootstrapper>());
        services.AddSingleton<ModelAccessLog>();
        services.AddSingleton<ModelAccessStore>();
        services.AddSingleton<ModelPreloader>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelPreloader>());
        services.AddHealthChecks().AddCheck<PreloadHealthCheck>("model-preload", tags: ["ready"]);
        services.AddKnownSeries(sp => sp.GetRequiredService<ModelMetrics>().ExportPreloadAtZero());
        return services;
    }

    public static IEndpointRouteBuilder MapModelEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapModelRegistryEndpoints();
        endpoints.MapPredictionEndpoints();
        return endpoints;
    }
}
