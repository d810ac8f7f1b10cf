using Formanova.Modules.Event.Api;
using Formanova.Modules.Event.Broadcast;
using Formanova.Modules.Event.Log;
using Formanova.Modules.Event.Webhooks;
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
        services.AddValidatedOptions<EventOptions, EventOptionsValidator>(configuration, EventOptions.SectionName)
            .Validate(o => o.DefaultPageSize <= o.MaxPageSize, "Event:DefaultPageSize must not exceed Event:MaxPageSize.");

        services.AddSingleton<EventStore>();
        services.AddSingleton<EventHub>();
        services.AddSingleton<EventAppender>();
        services.AddSingleton<IEventModule, EventService>();
        services.AddSingleton<WebhookStore>();
        services.AddSingleton<UrlGuard>();
        services.AddSingleton<WebhookSender>();
        services.AddSingleton<DeliverySignal>();
        services.AddDataProtection();
        services.AddSingleton<IEventWebhooksModule, WebhookService>();

        services.AddHostedService<EventFollower>();
        services.AddHostedService<EventHeartbeat>();
        services.AddHostedService<WebhookFanOut>();
        services.AddHostedService<EventRetention>();
        services.AddHostedService<WebhookDispatcher>();

        // Both stay idle unless Cache:Redis is set; deciding at run time keeps them right whatever configuration source sets it.
        services.AddSingleton<RedisEventRelay>();
        services.AddSingleton<IEventRelay>(sp => sp.GetRequiredService<RedisEventRelay>());
        services.AddHostedService(sp => sp.GetRequiredService<RedisEventRelay>());

        return services;
    }

    public static IEndpointRouteBuilder MapEventEndpoints(this IEndpointRouteBuilder endpoints)
    {
        EventEndpoints.Map(endpoints);
        WebhookEndpoints.Map(endpoints);
        return endpoints;
    }
}
