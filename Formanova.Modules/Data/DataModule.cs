using Formanova.Modules.Data.Api;
using Formanova.Modules.Data.Import;
using Formanova.Modules.Data.Outcomes;
using Formanova.Modules.Data.Results;
using Formanova.Modules.Data.Schema;
using Formanova.Modules.Data.Storage;
using Formanova.Modules.Shared;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Modules.Data;

/// <summary>Composition root of the Data module: its services, migrations and REST endpoints.</summary>
public static class DataModule
{
    public static IServiceCollection AddDataModule(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<DataOptions, DataOptionsValidator>(configuration, DataOptions.SectionName);
        services.AddMigrations("data", "Data/Migrations");
        services.AddSingleton<DatasetRepository>();
        services.AddSingleton<RowStore>();
        services.AddSingleton<ImportStaging>();
        services.AddHostedService<StagedRowSweeper>();
        services.AddSingleton<UploadSpool>();
        services.AddSingleton<Importer>();
        services.AddSingleton<SchemaInference>();
        services.AddSingleton<ResultRepository>();
        services.AddSingleton<PredictionStore>();
        services.AddSingleton<PredictionLog>();
        services.AddSingleton<IDataModule, DataService>();
        return services;
    }

    public static IEndpointRouteBuilder MapDataEndpoints(this IEndpointRouteBuilder endpoints)
    {
        DatasetEndpoints.Map(endpoints);
        ResultEndpoints.Map(endpoints);
        return endpoints;
    }
}
