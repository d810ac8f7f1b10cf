using Formanova.Modules.Event.Broadcast;
using Formanova.Modules.Event.Log;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Event.Webhooks;

/// <summary>
/// Turns logged events into delivery rows, following the log with a durable cursor (event_cursors), so an event
/// committed just before a crash still gets its deliveries. Idempotent: (webhook, event) is unique, and several
/// instances doing the same work only collide on that index.
/// </summary>
internal sealed class WebhookFanOut(
    WebhookStore webhooks,
    EventStore events,
    EventHub hub,
    DeliverySignal signal,
    IOptions<EventOptions> options,
    TimeProvider time,
    ILogger<WebhookFanOut> logger) : BackgroundService
{
    internal const string CursorName = "webhook_fanout";
    private const int Page = 500;

    // Under a stream of publishes the hub dispatches hundreds of times a second; one pass per debounce window
    // picks up all of them at a fraction of the queries.
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(50);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(options.Value.Webhooks.FanOutIntervalMilliseconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = hub.NextDispatch;
            try
            {
                await FanOutAsync(stoppingToken);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(exception, "Webhook fan-out failed; retrying");
            }

            await AsyncSignal.WaitAsync(next, interval, time, stoppingToken);
            await Task.Delay(Debounce, time, stoppingToken);
        }
    }

    /// <summary>
    /// One pass. Looking for new events is a poll and is not traced; turning them into deliveries is work, and runs under
    /// a root span <c>FanOutWebhooks</c> (docs/observability.md, "Background loops").
    /// </summary>
    internal async Task FanOutAsync(CancellationToken cancellationToken)
    {
        long end;
        long cursor;
        IReadOnlyList<WebhookRow> subscriptions;
        using (BackgroundTracing.Quiet())
        {
            // Read the end of the log before the subscriptions: one created afterwards starts at or beyond it.
            end = await events.MaxIdAsync(cancellationToken);
            subscriptions = await webhooks.ListAsync(cancellationToken);
            cursor = await webhooks.CursorAsync(CursorName, cancellationToken) ?? 0;
            if (subscriptions.Count == 0)
            {
                // Nothing to deliver to: moving the cursor past the new events is bookkeeping, as quiet as the poll.
                if (end > cursor)
                {
                    await webhooks.AdvanceCursorAsync(CursorName, end, cancellationToken);
                }

                return;
            }
        }

        // Events committed after the read of the end wake the next pass (the hub dispatches them).
        if (end <= cursor)
        {
            return;
        }

        await BackgroundTracing.WorkAsync("FanOutWebhooks", async span =>
        {
            var queued = 0;
            IReadOnlyList<EventRow> rows;
            do
            {
                rows = await events.ReadAfterAsync(cursor, EventFilter.All, Page, null, cancellationToken);
                var now = time.GetUtcNow();
                var deliveries = rows
                    .SelectMany(row => subscriptions.Where(w => row.Id > w.StartAfterEventId && w.Accepts(row.Type))
                        .Select(w => new NewDelivery(w.Id, row.Id, now)))
                    .ToList();
                var added = await webhooks.QueueAsync(deliveries, reset: false, cancellationToken);
                if (added > 0)
                {
                    queued += added;
                    signal.Signal.Set();
                }

                if (rows.Count > 0)
                {
                    cursor = rows[^1].Id;
                    await webhooks.AdvanceCursorAsync(CursorName, cursor, cancellationToken);
                }
            }
            while (rows.Count == Page);

            span?.SetTag("formanova.webhook.deliveries", queued);
        });
    }
}
