using System.Globalization;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Primitives;

namespace Formanova.Modules.Event.Api;

/// <summary>Webhook subscriptions (<c>/api/v1/events/webhooks</c>) and their deliveries (<c>/api/v1/events/deliveries</c>).</summary>
internal static class WebhookEndpoints
{
    private const int DefaultDeliveryLimit = 100;

    public static void Map(IEndpointRouteBuilder api)
    {
        var webhooks = api.MapGroup("/events/webhooks").WithTags("Webhooks").RequireScope(ApiScopes.Admin);
        webhooks.MapPost("/", CreateAsync).WithName("CreateWebhook");
        webhooks.MapGet("/", async (IEventWebhooksModule module, CancellationToken ct) =>
                TypedResults.Ok(await module.ListWebhooksAsync(ct)))
            .WithName("ListWebhooks");
        webhooks.MapGet("/{webhookId:long}", GetAsync).WithName("GetWebhook");
        webhooks.MapDelete("/{webhookId:long}", DeleteAsync).WithName("DeleteWebhook");
        webhooks.MapGet("/{webhookId:long}/deliveries", ListDeliveriesAsync).WithName("ListWebhookDeliveries");
        webhooks.MapPost("/{webhookId:long}/replay", ReplayAsync).WithName("ReplayToWebhook");

        var deliveries = api.MapGroup("/events/deliveries").WithTags("Webhooks").RequireScope(ApiScopes.Admin);
        deliveries.MapGet("/{deliveryId:long}", GetDeliveryAsync).WithName("GetWebhookDelivery");
        deliveries.MapPost("/{deliveryId:long}/redeliver", RedeliverAsync).WithName("RedeliverWebhookDelivery");
    }

    private static async Task<Created<CreatedWebhook>> CreateAsync(
        CreateWebhookRequest body,
        IEventWebhooksModule module,
        CancellationToken cancellationToken)
    {
        var created = await module.CreateWebhookAsync(body, cancellationToken);
        return TypedResults.Created($"/api/v1/events/webhooks/{created.Webhook.Id}", created);
    }

    private static async Task<Results<Ok<Webhook>, NotFound>> GetAsync(
        long webhookId,
        IEventWebhooksModule module,
        CancellationToken cancellationToken) =>
        await module.GetWebhookAsync(webhookId, cancellationToken) is { } webhook ? TypedResults.Ok(webhook) : TypedResults.NotFound();

    private static async Task<Results<NoContent, NotFound>> DeleteAsync(
        long webhookId,
        IEventWebhooksModule module,
        CancellationToken cancellationToken) =>
        await module.DeleteWebhookAsync(webhookId, cancellationToken) ? TypedResults.NoContent() : TypedResults.NotFound();

    private static async Task<Ok<IReadOnlyList<WebhookDelivery>>> ListDeliveriesAsync(
        long webhookId,
        string? status,
        [FromQuery(Name = "limit")] string? limitText,
        IEventWebhooksModule module,
        CancellationToken cancellationToken)
    {
        var deliveryStatus = ParseStatus(status);
        var limit = DefaultDeliveryLimit;
        if (!string.IsNullOrEmpty(limitText)
            && !int.TryParse(limitText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out limit))
        {
            throw ModuleException.Invalid("limit", "The limit must be an integer.");
        }

        return TypedResults.Ok(await module.ListDeliveriesAsync(webhookId, deliveryStatus, limit, cancellationToken));
    }

    private static async Task<Accepted<ReplayResult>> ReplayAsync(
        long webhookId,
        ReplayRequest body,
        IEventWebhooksModule module,
        CancellationToken cancellationToken) =>
        TypedResults.Accepted((string?)null, await module.ReplayAsync(webhookId, body, cancellationToken));

    private static async Task<Results<Ok<WebhookDeliveryDetails>, NotFound>> GetDeliveryAsync(
        long deliveryId,
        IEventWebhooksModule module,
        CancellationToken cancellationToken) =>
        await module.GetDeliveryAsync(deliveryId, cancellationToken) is { } details ? TypedResults.Ok(details) : TypedResults.NotFound();

    private static async Task<Accepted<WebhookDelivery>> RedeliverAsync(
        long deliveryId,
        IEventWebhooksModule module,
        CancellationToken cancellationToken) =>
        TypedResults.Accepted($"/api/v1/events/deliveries/{deliveryId}", await module.RedeliverAsync(deliveryId, cancellationToken));

    private static DeliveryStatus? ParseStatus(StringValues values)
    {
        if (StringValues.IsNullOrEmpty(values))
        {
            return null;
        }

        return values.Count == 1 && values[0] switch
        {
            "pending" => (DeliveryStatus?)DeliveryStatus.Pending,
            "delivered" => DeliveryStatus.Delivered,
            "deadLettered" => DeliveryStatus.DeadLettered,
            _ => null,
        } is { } status
            ? status
            : throw ModuleException.Invalid("status", "The status is one of pending, delivered, deadLettered.");
    }
}
