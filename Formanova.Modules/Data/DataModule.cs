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
        services.AddMigrations("data", "Data/Migrations");
        services.ScanModule(typeof(DataModule).Namespace!);
        return services;
    }

    public static IEndpointRouteBuilder MapDataEndpoints(this IEndpointRouteBuilder endpoints) => endpoints;
}
