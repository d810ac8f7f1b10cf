using System.Security.Cryptography;
using Formanova.Modules.Event.Log;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Event.Webhooks;

/// <summary>Set when deliveries become due (fan-out, redelivery, replay, a finished attempt) to wake the dispatcher.</summary>
internal sealed class DeliverySignal
{
    public AsyncSignal Signal { get; } = new();
}

internal sealed class WebhookService(
    WebhookStore store,
    EventStore events,
    WebhookSender sender,
    UrlGuard guard,
    DeliverySignal signal,
    IOptions<EventOptions> options,
    TimeProvider time,
    IDataProtectionProvider dataProtection) : IEventWebhooksModule
{
    // Secrets are stored encrypted with the host's Data Protection key ring: a database dump alone cannot sign.
    private readonly IDataProtector _secrets = dataProtection.CreateProtector("Formanova.Event.WebhookSecret.v1");

    public const int MaxListLimit = 1_000;
    private const int MinSecretLength = 16;
    private const int MaxSecretLength = 256;
    private const int MaxDescriptionLength = 500;

    private EventOptions.WebhookOptions Options => options.Value.Webhooks;

    public async Task<CreatedWebhook> CreateWebhookAsync(CreateWebhookRequest request, CancellationToken cancellationToken = default)
    {
        var uri = UrlGuard.Parse(request.Url);
        var types = SubscribedTypes(request.EventTypes);
        if (request.Secret is { } given && (given.Length < MinSecretLength || given.Length > MaxSecretLength || given.Any(char.IsControl)))
        {
            throw ModuleException.Invalid(
                "secret",
                $"A secret has {MinSecretLength} to {MaxSecretLength} characters and no control characters.");
        }

        if (EventRules.TextError(request.Description, MaxDescriptionLength, "The description") is { } descriptionError)
        {
            throw ModuleException.Invalid("description", descriptionError);
        }

        await guard.CheckAsync(uri, cancellationToken);
        var secret = request.Secret
            ?? "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var row = await store.InsertAsync(
            uri.AbsoluteUri,
            types,
            _secrets.Protect(secret),
            request.Description,
            time.GetUtcNow(),
            cancellationToken);
        return new CreatedWebhook(row.ToWebhook(), secret);
    }

    /// <summary>The types to store: empty for every type, which only an explicit <c>["*"]</c> asks for.</summary>
    private static IReadOnlyList<string> SubscribedTypes(IReadOnlyList<string>? requested)
    {
        const string Field = "eventTypes";
        if (requested is null || requested.Count == 0)
        {
            throw ModuleException.Invalid(Field, "List the event types to deliver, or [\"*\"] for every type.");
        }

        if (requested.Contains(IEventModule.AllEventTypes))
        {
            return requested.Count == 1 ? [] : throw ModuleException.Invalid(Field, "\"*\" already means every type; give it alone.");
        }

        return EventRules.ParseTypes(requested, Field);
    }

    public async Task<IReadOnlyList<Webhook>> ListWebhooksAsync(CancellationToken cancellationToken = default) =>
        (await store.ListAsync(cancellationToken)).Select(w => w.ToWebhook()).ToList();

    public async Task<Webhook?> GetWebhookAsync(long webhookId, CancellationToken cancellationToken = default) =>
        (await store.GetAsync(webhookId, cancellationToken))?.ToWebhook();

    public Task<bool> DeleteWebhookAsync(long webhookId, CancellationToken cancellationToken = default) =>
        store.DeleteAsync(webhookId, cancellationToken);

    public async Task<DeliveryAttemptResult> AttemptDeliveryAsync(long deliveryId, CancellationToken cancellationToken = default)
    {
        var delivery = await store.GetDeliveryAsync(deliveryId, cancellationToken);
        if (delivery is null)
        {
            return new DeliveryAttemptResult(
                DeliveryOutcome.PermanentFailure,
                $"Delivery {deliveryId} does not exist (its webhook was deleted, or retention removed it).",
                null,
                null);
        }

        switch (delivery.Status)
        {
            case DeliveryRow.Delivered:
                return new DeliveryAttemptResult(DeliveryOutcome.Delivered, null, delivery.LastStatusCode, delivery.ToDelivery());
            case DeliveryRow.DeadLettered:
                return new DeliveryAttemptResult(
                    DeliveryOutcome.PermanentFailure,
                    delivery.LastError ?? "The delivery was dead-lettered.",
                    delivery.LastStatusCode,
                    delivery.ToDelivery());
        }

        var now = time.GetUtcNow();
        var lease = TimeSpan.FromSeconds(Options.TimeoutSeconds + 30);
        if (!await store.ClaimAsync(deliveryId, now, now + lease, cancellationToken))
        {
            var current = await store.GetDeliveryAsync(deliveryId, cancellationToken);
            return current is { Status: DeliveryRow.Pending }
                ? new DeliveryAttemptResult(
                    DeliveryOutcome.RetryableFailure,
                    "Another attempt of this delivery is in progress.",
                    null,
                    current.ToDelivery())
                : await AttemptDeliveryAsync(deliveryId, cancellationToken);
        }

        var webhook = await store.GetAsync(delivery.WebhookId, cancellationToken);
        var row = await events.GetAsync(delivery.EventId, cancellationToken);
        var attempt = delivery.Attempts + 1;
        var result = webhook is null
            ? new SendResult(DeliveryOutcome.PermanentFailure, null, "The webhook was deleted.", 0)
            : row is null
                ? new SendResult(
                    DeliveryOutcome.PermanentFailure,
                    null,
                    $"Event {delivery.EventId} is no longer in the log (retention).",
                    0)
                : await sender.SendAsync(
                    new Uri(webhook.Url),
                    _secrets.Unprotect(webhook.Secret),
                    deliveryId,
                    attempt,
                    new LoggedEvent(row),
                    cancellationToken);

        var finished = time.GetUtcNow();
        var exhausted = result.Outcome == DeliveryOutcome.RetryableFailure && attempt >= Options.MaxAttempts;
        delivery.Attempts = attempt;
        delivery.LastStatusCode = result.StatusCode;
        delivery.LastError = exhausted
            ? $"{result.Error} Dead-lettered after {attempt} attempts (Event:Webhooks:MaxAttempts)."
            : result.Error;
        delivery.UpdatedAt = finished;
        delivery.Status = result.Outcome switch
        {
            DeliveryOutcome.Delivered => DeliveryRow.Delivered,
            DeliveryOutcome.PermanentFailure => DeliveryRow.DeadLettered,
            _ => exhausted ? DeliveryRow.DeadLettered : DeliveryRow.Pending,
        };
        delivery.DeliveredAt = result.Outcome == DeliveryOutcome.Delivered ? finished : null;
        delivery.NextAttemptAt = delivery.Status == DeliveryRow.Pending ? finished + Backoff(attempt) : finished;
        await store.RecordAttemptAsync(delivery, result, now, CancellationToken.None);
        return new DeliveryAttemptResult(result.Outcome, result.Error, result.StatusCode, delivery.ToDelivery());
    }

    public async Task<IReadOnlyList<WebhookDelivery>> ListDueDeliveriesAsync(int limit, CancellationToken cancellationToken = default)
    {
        CheckLimit(limit);
        return (await store.DueAsync(time.GetUtcNow(), limit, cancellationToken)).Select(d => d.ToDelivery()).ToList();
    }

    public async Task<IReadOnlyList<WebhookDelivery>> ListDeliveriesAsync(
        long webhookId,
        DeliveryStatus? status,
        int limit,
        CancellationToken cancellationToken = default)
    {
        CheckLimit(limit);
        if (await store.GetAsync(webhookId, cancellationToken) is null)
        {
            throw ModuleException.NotFound("Webhook", webhookId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var rows = await store.ListDeliveriesAsync(webhookId, status is { } s ? DeliveryRow.ToText(s) : null, limit, cancellationToken);
        return rows.Select(d => d.ToDelivery()).ToList();
    }

    public async Task<WebhookDeliveryDetails?> GetDeliveryAsync(long deliveryId, CancellationToken cancellationToken = default)
    {
        var delivery = await store.GetDeliveryAsync(deliveryId, cancellationToken);
        if (delivery is null)
        {
            return null;
        }

        var attempts = await store.AttemptsAsync(deliveryId, cancellationToken);
        return new WebhookDeliveryDetails(delivery.ToDelivery(), attempts.Select(a => a.ToAttempt()).ToList());
    }

    public async Task<WebhookDelivery> MarkDeadLetteredAsync(long deliveryId, string reason, CancellationToken cancellationToken = default)
    {
        if (EventRules.TextError(reason, MaxDescriptionLength, "The reason") is { } error)
        {
            throw ModuleException.Invalid("reason", error);
        }

        await store.DeadLetterAsync(deliveryId, reason, time.GetUtcNow(), cancellationToken);
        return await RequireDeliveryAsync(deliveryId, cancellationToken);
    }

    public async Task<WebhookDelivery> RedeliverAsync(long deliveryId, CancellationToken cancellationToken = default)
    {
        if (!await store.ResetAsync(deliveryId, time.GetUtcNow(), cancellationToken))
        {
            throw DeliveryNotFound(deliveryId);
        }

        signal.Signal.Set();
        return await RequireDeliveryAsync(deliveryId, cancellationToken);
    }

    public async Task<ReplayResult> ReplayAsync(long webhookId, ReplayRequest request, CancellationToken cancellationToken = default)
    {
        if (request.AfterSequence < 0)
        {
            throw ModuleException.Invalid("afterSequence", "The afterSequence must be zero or positive.");
        }

        if (request.ToSequence is { } to && to <= request.AfterSequence)
        {
            throw ModuleException.Invalid("toSequence", "The toSequence must be greater than afterSequence.");
        }

        var webhook = await store.GetAsync(webhookId, cancellationToken)
            ?? throw ModuleException.NotFound("Webhook", webhookId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var rows = await events.ReadAfterAsync(
            request.AfterSequence,
            new EventFilter(webhook.TypeList, null),
            Options.MaxReplayEvents,
            request.ToSequence,
            cancellationToken);
        var now = time.GetUtcNow();
        var queued = await store.QueueAsync(
            rows.Select(r => new NewDelivery(webhookId, r.Id, now)).ToList(),
            reset: true,
            cancellationToken);
        signal.Signal.Set();

        // At the cap, the range was cut short: the caller continues from the last queued sequence.
        var reached = rows.Count == Options.MaxReplayEvents
            ? rows[^1].Id
            : request.ToSequence ?? (rows.Count > 0 ? rows[^1].Id : request.AfterSequence);
        return new ReplayResult(webhookId, queued, request.AfterSequence, reached);
    }

    /// <summary>base × 2^(attempt−1), capped, with ±20% jitter so that a receiver's recovery is not met by a thundering herd.</summary>
    internal TimeSpan Backoff(int attempt)
    {
        var baseMs = (double)Options.BackoffBaseMilliseconds;
        var capped = Math.Min(baseMs * Math.Pow(2, Math.Min(attempt - 1, 40)), Options.MaxBackoffSeconds * 1000.0);
        return TimeSpan.FromMilliseconds(capped * (0.8 + (Random.Shared.NextDouble() * 0.4)));
    }

    private static void CheckLimit(int limit)
    {
        if (limit < 1 || limit > MaxListLimit)
        {
            throw ModuleException.Invalid("limit", $"The limit must be between 1 and {MaxListLimit}.");
        }
    }

    private async Task<WebhookDelivery> RequireDeliveryAsync(long deliveryId, CancellationToken cancellationToken) =>
        (await store.GetDeliveryAsync(deliveryId, cancellationToken))?.ToDelivery() ?? throw DeliveryNotFound(deliveryId);

    private static ModuleException DeliveryNotFound(long deliveryId) =>
        ModuleException.NotFound("Delivery", deliveryId.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
