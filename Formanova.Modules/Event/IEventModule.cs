using System.Text.Json;
using System.Text.Json.Serialization;

namespace Formanova.Modules.Event;

/// <summary>
/// The durable event log: publish (idempotent), read back and page through events. Every published event is
/// broadcast to live subscribers (SSE) and fanned out to matching webhook subscriptions.
/// </summary>
public interface IEventModule
{
    /// <summary>The webhook subscription to every event type.</summary>
    const string AllEventTypes = "*";

    /// <summary>A workflow run began.</summary>
    const string WorkflowStarted = "WORKFLOW_STARTED";

    /// <summary>A workflow finished its processing stage; data carries the result.</summary>
    const string ProcessingCompleted = "PROCESSING_COMPLETED";

    /// <summary>A workflow run completed successfully.</summary>
    const string WorkflowCompleted = "WORKFLOW_COMPLETED";

    /// <summary>A workflow run failed; data carries the reason.</summary>
    const string WorkflowFailed = "WORKFLOW_FAILED";

    /// <summary>A model version was registered.</summary>
    const string ModelRegistered = "MODEL_REGISTERED";

    /// <summary>A model version became the active one.</summary>
    const string ModelActivated = "MODEL_ACTIVATED";

    /// <summary>Inference fell back to another model version.</summary>
    const string ModelFallback = "MODEL_FALLBACK";

    /// <summary>A model promotion was rolled back.</summary>
    const string ModelPromotionRolledBack = "MODEL_PROMOTION_ROLLED_BACK";

    /// <summary>Training reported progress.</summary>
    const string TrainingProgress = "TRAINING_PROGRESS";

    /// <summary>A training run failed; data carries the reason and its problems (bad rows, their columns).</summary>
    const string TrainingFailed = "TRAINING_FAILED";

    /// <summary>A dataset import finished.</summary>
    const string DatasetImported = "DATASET_IMPORTED";

    /// <summary>A monitoring check found a feature, the predictions or the data quality past its thresholds (docs/monitoring.md).</summary>
    const string ModelDriftDetected = "MODEL_DRIFT_DETECTED";

    /// <summary>A monitoring check found the live quality metric (from feedback) worse than allowed.</summary>
    const string ModelPerformanceDegraded = "MODEL_PERFORMANCE_DEGRADED";

    /// <summary>A monitoring policy retrained a model; data says how it rolls out (approval needed or promoted).</summary>
    const string ModelRetrained = "MODEL_RETRAINED";

    /// <summary>An experiment began routing traffic to its arms.</summary>
    const string ExperimentStarted = "EXPERIMENT_STARTED";

    /// <summary>An experiment found a winner; data carries it and whether it was promoted.</summary>
    const string ExperimentDecided = "EXPERIMENT_DECIDED";

    /// <summary>A candidate broke an experiment's guard and the experiment was rolled back; data carries the breach.</summary>
    const string ExperimentRolledBack = "EXPERIMENT_ROLLED_BACK";

    /// <summary>An experiment was stopped (by request, or at its maximum duration) without a winner.</summary>
    const string ExperimentStopped = "EXPERIMENT_STOPPED";

    /// <summary>
    /// Appends an event to the log. With an idempotency key, a repeated publish (an activity retried) returns
    /// the event stored first, with <see cref="PublishEventResult.Created"/> false, and never stores a second one.
    /// Throws <c>ModuleException</c> (Invalid) when the type is not UPPER_SNAKE, the source is empty, or the data is too large.
    /// </summary>
    Task<PublishEventResult> PublishAsync(PublishEventRequest request, CancellationToken cancellationToken = default);

    /// <summary>One event by its sequence number, or null when it does not exist (or was removed by retention).</summary>
    Task<CloudEvent?> GetAsync(long sequence, CancellationToken cancellationToken = default);

    /// <summary>Events with a sequence greater than <see cref="EventQuery.After"/>, oldest first.</summary>
    Task<EventPage> ListAsync(EventQuery query, CancellationToken cancellationToken = default);

    /// <summary>The sequence of the newest event in the log (0 when it is empty): where a tail of the log starts.</summary>
    Task<long> LatestSequenceAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// Webhook subscriptions and their deliveries. <see cref="AttemptDeliveryAsync"/> is the single step a durable
/// delivery workflow repeats; the built-in dispatcher (<c>Event:Webhooks:Dispatcher:Enabled</c>) uses it too.
/// </summary>
public interface IEventWebhooksModule
{
    /// <summary>
    /// Creates a subscription for events published from now on. The result is the only place the secret is ever returned.
    /// </summary>
    Task<CreatedWebhook> CreateWebhookAsync(CreateWebhookRequest request, CancellationToken cancellationToken = default);

    /// <summary>All subscriptions (without secrets).</summary>
    Task<IReadOnlyList<Webhook>> ListWebhooksAsync(CancellationToken cancellationToken = default);

    /// <summary>One subscription, or null.</summary>
    Task<Webhook?> GetWebhookAsync(long webhookId, CancellationToken cancellationToken = default);

    /// <summary>Deletes a subscription with its deliveries; false when it did not exist.</summary>
    Task<bool> DeleteWebhookAsync(long webhookId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends one delivery once and records the attempt. Idempotent by delivery id: a delivered delivery is not
    /// sent again (returns Delivered), a dead-lettered one returns PermanentFailure, and one whose attempt is in
    /// flight elsewhere returns RetryableFailure without sending. When the attempts reach
    /// <c>Event:Webhooks:MaxAttempts</c> the delivery is dead-lettered.
    /// </summary>
    Task<DeliveryAttemptResult> AttemptDeliveryAsync(long deliveryId, CancellationToken cancellationToken = default);

    /// <summary>Pending deliveries whose next attempt is due now, oldest first.</summary>
    Task<IReadOnlyList<WebhookDelivery>> ListDueDeliveriesAsync(int limit, CancellationToken cancellationToken = default);

    /// <summary>Deliveries of one subscription, newest first, optionally in one status.</summary>
    Task<IReadOnlyList<WebhookDelivery>> ListDeliveriesAsync(
        long webhookId,
        DeliveryStatus? status,
        int limit,
        CancellationToken cancellationToken = default);

    /// <summary>One delivery with every attempt made, or null.</summary>
    Task<WebhookDeliveryDetails?> GetDeliveryAsync(long deliveryId, CancellationToken cancellationToken = default);

    /// <summary>Stops retrying a delivery (no-op when already delivered). Throws NotFound for an unknown id.</summary>
    Task<WebhookDelivery> MarkDeadLetteredAsync(long deliveryId, string reason, CancellationToken cancellationToken = default);

    /// <summary>Puts any delivery back to pending, due now, with its attempt count reset. Throws NotFound for an unknown id.</summary>
    Task<WebhookDelivery> RedeliverAsync(long deliveryId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Queues every matching logged event with afterSequence &lt; sequence &lt;= toSequence for (re)delivery to the subscription.
    /// </summary>
    Task<ReplayResult> ReplayAsync(long webhookId, ReplayRequest request, CancellationToken cancellationToken = default);
}

/// <summary>
/// An event to append. Type is UPPER_SNAKE; source is a URI reference such as <c>/workflows/{id}/runs/{runId}</c> or
/// <c>/modules/model</c>. DataRef (the CloudEvents <c>dataref</c> extension) is where the full data can be read: with
/// it, data over <c>Event:MaxDataBytes</c> is logged as a summary of its top-level values instead of being refused.
/// </summary>
public sealed record PublishEventRequest(
    string Type,
    string Source,
    JsonElement? Data = null,
    string? Subject = null,
    string? IdempotencyKey = null,
    string? CorrelationId = null,
    string? DataRef = null);

/// <summary>The stored event; Created is false when an earlier publish with the same idempotency key stored it.</summary>
public sealed record PublishEventResult(CloudEvent Event, bool Created);

/// <summary>A logged event in CloudEvents 1.0 structured JSON form. Id is the decimal sequence number in the log.</summary>
public sealed record CloudEvent(
    [property: JsonPropertyName("specversion")] string SpecVersion,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("subject"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Subject,
    [property: JsonPropertyName("time")] DateTimeOffset Time,
    [property: JsonPropertyName("datacontenttype")] string DataContentType,
    [property: JsonPropertyName("correlationid"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? CorrelationId,
    [property: JsonPropertyName("data"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Data,
    [property: JsonPropertyName("dataref"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? DataRef = null)
{
    [JsonIgnore]
    public long Sequence => long.Parse(Id, System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// A page query. Types empty means all; Source matches exactly or as a path prefix (<c>/workflows/abc</c> matches its runs).
/// </summary>
public sealed record EventQuery(long After = 0, IReadOnlyList<string>? Types = null, string? Source = null, int Limit = 100);

/// <summary>One page of events; pass NextAfter as the next query's After (null when this page was the last).</summary>
public sealed record EventPage(IReadOnlyList<CloudEvent> Items, long? NextAfter);

/// <summary>
/// A webhook subscription. EventTypes is required: the types to deliver, or <c>["*"]</c> (<see cref="IEventModule.AllEventTypes"/>)
/// for every type, so a missing or misspelt field can never subscribe to everything. Secret: 16–256 characters, generated when absent.
/// </summary>
public sealed record CreateWebhookRequest(string Url, IReadOnlyList<string> EventTypes, string? Secret = null, string? Description = null);

/// <summary>A subscription as stored, without its secret.</summary>
public sealed record Webhook(
    long Id,
    string Url,
    IReadOnlyList<string> EventTypes,
    string? Description,
    long StartAfterSequence,
    DateTimeOffset CreatedAt);

/// <summary>The creation result: the only response that carries the signing secret.</summary>
public sealed record CreatedWebhook(Webhook Webhook, string Secret);

public enum DeliveryStatus
{
    Pending,
    Delivered,
    DeadLettered,
}

public enum DeliveryOutcome
{
    Delivered,
    RetryableFailure,
    PermanentFailure,
}

/// <summary>The state of one event's delivery to one subscription.</summary>
public sealed record WebhookDelivery(
    long Id,
    long WebhookId,
    long EventSequence,
    DeliveryStatus Status,
    int Attempts,
    DateTimeOffset NextAttemptAt,
    int? LastStatusCode,
    string? LastError,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? DeliveredAt);

/// <summary>One recorded attempt.</summary>
public sealed record WebhookAttempt(
    int Attempt,
    DateTimeOffset AttemptedAt,
    DeliveryOutcome Outcome,
    int? StatusCode,
    string? Error,
    double DurationMs);

/// <summary>A delivery with its attempts, oldest first.</summary>
public sealed record WebhookDeliveryDetails(WebhookDelivery Delivery, IReadOnlyList<WebhookAttempt> Attempts);

/// <summary>
/// What one attempt achieved. Reason explains a failure; Delivery is the state after the attempt (null when the
/// delivery no longer exists). A RetryableFailure whose Delivery is DeadLettered has exhausted its attempts.
/// </summary>
public sealed record DeliveryAttemptResult(DeliveryOutcome Outcome, string? Reason, int? StatusCode, WebhookDelivery? Delivery);

/// <summary>Replays the range (AfterSequence, ToSequence] of the log; ToSequence null means up to the newest event.</summary>
public sealed record ReplayRequest(long AfterSequence, long? ToSequence = null);

/// <summary>How many deliveries a replay queued (new ones plus existing ones reset to pending).</summary>
public sealed record ReplayResult(long WebhookId, int Queued, long AfterSequence, long ToSequence);
