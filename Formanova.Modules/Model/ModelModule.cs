using Formanova.Modules.Shared;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Modules.Model;

/// <summary>Composition root of the Model module: its services, migrations and REST endpoints.</summary>
public static class ModelModule
{
    public static IServiceCollection AddModelModule(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddMigrations("model", "Model/Migrations");
        services.ScanModule(typeof(ModelModule).Namespace!);
        return services;
    }

    public static IEndpointRouteBuilder MapModelEndpoints(this IEndpointRouteBuilder endpoints) => endpoints;
}
