using Formanova.Modules.Shared;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Modules.Event;

/// <summary>Composition root of the Event module: its services, migrations and REST endpoints.</summary>
public static class EventModule
{
    public static IServiceCollection AddEventModule(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddMigrations("event", "Event/Migrations");
        services.ScanModule(typeof(EventModule).Namespace!);
        return services;
    }

    public static IEndpointRouteBuilder MapEventEndpoints(this IEndpointRouteBuilder endpoints) => endpoints;
}
