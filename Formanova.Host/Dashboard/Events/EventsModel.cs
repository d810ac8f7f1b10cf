using Formanova.Modules.Event;

namespace Formanova.Host.Dashboard.Events;

/// <summary>
/// The event log's tail as a filter sees it: the newest matching events among the log's last <see cref="Window"/>,
/// newest first; <see cref="Error"/> when the filter or the log could not be read.
/// </summary>
public sealed record EventTailModel(IReadOnlyList<CloudEvent> Events, string? Type, string? Source, int Window, string? Error);

/// <summary>A webhook subscription with its latest deliveries, newest first.</summary>
public sealed record WebhookRow(Webhook Webhook, IReadOnlyList<WebhookDelivery> Deliveries);
