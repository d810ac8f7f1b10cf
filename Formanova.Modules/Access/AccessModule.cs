using Formanova.Modules.Access.Api;
using Formanova.Modules.Shared;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Modules.Access;

/// <summary>Composition root of the Access module: API keys and their REST endpoints.</summary>
public static class AccessModule
{
    public static IServiceCollection AddAccessModule(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<AccessOptions, AccessOptionsValidator>(configuration, AccessOptions.SectionName);
        services.AddMigrations("access", "Access/Migrations");
        services.AddSingleton<IAccessModule, AccessService>();
        return services;
    }

    public static IEndpointRouteBuilder MapAccessEndpoints(this IEndpointRouteBuilder endpoints)
    {
        KeyEndpoints.Map(endpoints);
        return endpoints;
    }
}
