using System.Globalization;
using Formanova.Modules.Event.Webhooks;
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

    private static readonly Webhook ExampleWebhook = new(
        3,
        "https://hooks.example.com/formanova",
        [IEventModule.ModelActivated, IEventModule.WorkflowFailed],
        "Model activations and failed runs to the ops channel",
        41,
        new DateTimeOffset(2026, 11, 20, 8, 15, 0, TimeSpan.Zero));

    private static readonly WebhookDelivery ExampleDelivery = new(
        118,
        3,
        44,
        DeliveryStatus.Delivered,
        2,
        new DateTimeOffset(2026, 11, 26, 12, 0, 3, 402, TimeSpan.Zero),
        200,
        null,
        new DateTimeOffset(2026, 11, 26, 12, 0, 2, 300, TimeSpan.Zero),
        new DateTimeOffset(2026, 11, 26, 12, 0, 3, 444, TimeSpan.Zero),
        new DateTimeOffset(2026, 11, 26, 12, 0, 3, 444, TimeSpan.Zero));

    public static void Map(IEndpointRouteBuilder api)
    {
        var webhooks = api.MapGroup("/events/webhooks").WithTags("Webhooks").RequireScope(ApiScopes.Admin);
        webhooks.MapPost("/", CreateAsync).WithName("CreateWebhook")
            .WithSummary("Subscribe a webhook")
            .WithDescription(
                "Subscribes `url` to the `eventTypes` listed (`[\"*\"]` alone for every type; a missing or empty list is "
                + "a 400). It receives the events published after its creation (`startAfterSequence`); older ones can be "
                + "replayed. Answers 201 with the subscription and its signing `secret` (16–256 characters, or a generated "
                + "`whsec_…` one), **the only time the secret is shown**.\n\n"
                + "The URL must be an absolute http(s) URL without credentials or fragment whose every resolved address is "
                + "allowed: loopback, private and link-local addresses are refused (400 naming `url`) unless "
                + "`Event:Webhooks:AllowLoopback`, `AllowPrivateNetworks` or `AllowLinkLocal` allow them.\n\n"
                + "**Deliveries:** `POST {url}` with the CloudEvent as body (`application/cloudevents+json`) and the headers "
                + "`Formanova-Signature: t={unix seconds},v1={hex HMAC-SHA256 of \"{t}.\" + raw body, keyed with the "
                + "secret}`, `Formanova-Delivery-Id`, `Formanova-Event-Id`, `Formanova-Event-Type` and `Formanova-Attempt`. "
                + "Delivery is at least once and unordered: deduplicate by `Formanova-Delivery-Id`. A 2xx is delivered; "
                + "408, 425, 429, 5xx, timeouts and connection errors are retried with exponential backoff "
                + "(`Event:Webhooks:BackoffBaseMilliseconds` doubling, ±20 % jitter, up to `MaxBackoffSeconds`) until "
                + "`Event:Webhooks:MaxAttempts` (8), then dead-lettered; redirects and other 4xx are dead-lettered at once.")
            .WithRequestExample(new CreateWebhookRequest(
                "https://hooks.example.com/formanova", [IEventModule.ModelActivated, IEventModule.WorkflowFailed],
                Description: "Model activations and failed runs to the ops channel"))
            .WithResponseExample(
                new CreatedWebhook(ExampleWebhook, "whsec_q5Yb0mK3x8Jt2nVwR9cF4hZ7LpE1sAoD6gUiN0yTkXe"), StatusCodes.Status201Created);
        webhooks.MapGet("/", async (IEventWebhooksModule module, CancellationToken ct) =>
                TypedResults.Ok(await module.ListWebhooksAsync(ct)))
            .WithName("ListWebhooks")
            .WithSummary("List webhooks")
            .WithDescription("Every webhook subscription, without its secret.")
            .WithResponseExample(new[] { ExampleWebhook });
        webhooks.MapGet("/{webhookId:long}", GetAsync).WithName("GetWebhook")
            .WithSummary("Get a webhook")
            .WithDescription("One webhook subscription, without its secret.")
            .WithResponseExample(ExampleWebhook);
        webhooks.MapDelete("/{webhookId:long}", DeleteAsync).WithName("DeleteWebhook")
            .WithSummary("Delete a webhook")
            .WithDescription("Removes the subscription with its deliveries and their attempts; deliveries still pending are "
                + "not sent. 204, or 404 when there is no such webhook.");
        webhooks.MapGet("/{webhookId:long}/deliveries", ListDeliveriesAsync).WithName("ListWebhookDeliveries")
            .WithSummary("List a webhook's deliveries")
            .WithDescription("The webhook's deliveries (one per event it was sent or is due to be sent), optionally only "
                + "those with one `status`, at most `limit` of them. 404 when there is no such webhook.")
            .WithParameter(new ApiParameterMetadata(
                "status", ApiParameterLocation.Query, ApiParameterType.Text, "Only deliveries in this state.",
                Enum: ["pending", "delivered", "deadLettered"]))
            .WithParameter(new ApiParameterMetadata(
                "limit", ApiParameterLocation.Query, ApiParameterType.WholeNumber,
                $"How many deliveries at most (1 to {WebhookService.MaxListLimit}; {DefaultDeliveryLimit} when absent).",
                Minimum: 1,
                Maximum: WebhookService.MaxListLimit))
            .WithResponseExample(new[] { ExampleDelivery });
        webhooks.MapPost("/{webhookId:long}/replay", ReplayAsync).WithName("ReplayToWebhook")
            .WithSummary("Replay events to a webhook")
            .WithDescription(
                "Queues the events of the range (`afterSequence`, `toSequence`] that match the webhook's types for "
                + "delivery (up to the newest event when `toSequence` is absent): new deliveries are created and existing "
                + "ones reset to pending. At most `Event:Webhooks:MaxReplayEvents` (10000) events per call: the answer's "
                + "`toSequence` says how far it got, so call again from there for the rest. Answers 202 with the count "
                + "queued; the deliveries are sent in the background.")
            .WithRequestExample(new ReplayRequest(0, 1200))
            .WithResponseExample(new ReplayResult(3, 57, 0, 1200), StatusCodes.Status202Accepted);

        var deliveries = api.MapGroup("/events/deliveries").WithTags("Webhooks").RequireScope(ApiScopes.Admin);
        deliveries.MapGet("/{deliveryId:long}", GetDeliveryAsync).WithName("GetWebhookDelivery")
            .WithSummary("Get a webhook delivery")
            .WithDescription("One delivery's state with every attempt (outcome, status code, error, duration), oldest first.")
            .WithResponseExample(new WebhookDeliveryDetails(
                ExampleDelivery,
                [
                    new WebhookAttempt(
                        1, new DateTimeOffset(2026, 11, 26, 12, 0, 2, 310, TimeSpan.Zero), DeliveryOutcome.RetryableFailure, 503,
                        "The receiver answered 503.", 84.2),
                    new WebhookAttempt(
                        2, new DateTimeOffset(2026, 11, 26, 12, 0, 3, 402, TimeSpan.Zero), DeliveryOutcome.Delivered, 200, null, 41.7),
                ]));
        deliveries.MapPost("/{deliveryId:long}/redeliver", RedeliverAsync).WithName("RedeliverWebhookDelivery")
            .WithSummary("Redeliver a webhook delivery")
            .WithDescription("Puts any delivery (delivered or dead-lettered too) back to pending with its attempts reset and "
                + "due now. Answers 202 with the delivery; `Location` is the delivery to poll.")
            .WithResponseExample(
                ExampleDelivery with
                {
                    Status = DeliveryStatus.Pending,
                    Attempts = 0,
                    NextAttemptAt = new DateTimeOffset(2026, 11, 27, 9, 30, 0, TimeSpan.Zero),
                    UpdatedAt = new DateTimeOffset(2026, 11, 27, 9, 30, 0, TimeSpan.Zero),
                    DeliveredAt = null,
                },
                StatusCodes.Status202Accepted);
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
