using System.Collections.Concurrent;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Event.Webhooks;

/// <summary>
/// The built-in delivery loop until durable delivery workflows take over (Event:Webhooks:Dispatcher:Enabled=false).
/// It only schedules: each attempt, its record, backoff and dead-lettering are AttemptDeliveryAsync's, exactly
/// what a workflow would call. A slow or hanging receiver holds one of the Concurrency slots, never the loop.
/// </summary>
internal sealed class WebhookDispatcher(
    IEventWebhooksModule webhooks,
    DeliverySignal signal,
    IOptions<EventOptions> options,
    TimeProvider time,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<long, Task> _inFlight = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var dispatcher = options.Value.Webhooks.Dispatcher;
        if (!dispatcher.Enabled)
        {
            logger.LogInformation("The built-in webhook dispatcher is off (Event:Webhooks:Dispatcher:Enabled=false)");
            return;
        }

        var interval = TimeSpan.FromMilliseconds(dispatcher.PollIntervalMilliseconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = signal.Signal.Next;
            try
            {
                await DispatchDueAsync(stoppingToken);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(exception, "Listing due webhook deliveries failed; retrying");
            }

            await AsyncSignal.WaitAsync(next, interval, time, stoppingToken);
        }

        await Task.WhenAll(_inFlight.Values);
    }

    /// <summary>
    /// One pass: starts an attempt for each due delivery, up to the free Concurrency slots. Listing them is a poll and
    /// is not traced; each attempt is work, under a root span <c>DeliverWebhook</c> (docs/observability.md).
    /// </summary>
    internal async Task DispatchDueAsync(CancellationToken stoppingToken)
    {
        var free = options.Value.Webhooks.Dispatcher.Concurrency - _inFlight.Count;
        if (free <= 0)
        {
            return;
        }

        IReadOnlyList<WebhookDelivery> due;
        using (BackgroundTracing.Quiet())
        {
            due = await webhooks.ListDueDeliveriesAsync(Math.Min(free + _inFlight.Count, WebhookService.MaxListLimit), stoppingToken);
        }

        foreach (var delivery in due.Where(d => !_inFlight.ContainsKey(d.Id)).Take(free))
        {
            _inFlight[delivery.Id] = AttemptAsync(delivery.Id, stoppingToken);
        }
    }

    private async Task AttemptAsync(long deliveryId, CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            var result = await BackgroundTracing.WorkAsync("DeliverWebhook", async span =>
            {
                span?.SetTag("formanova.webhook.delivery.id", deliveryId);
                var attempt = await webhooks.AttemptDeliveryAsync(deliveryId, stoppingToken);
                span?.SetTag("formanova.webhook.delivery.outcome", attempt.Outcome.ToString());
                return attempt;
            });
            logger.LogDebug("Webhook delivery {DeliveryId}: {Outcome} {Reason}", deliveryId, result.Outcome, result.Reason);
        }
        catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
        {
            logger.LogWarning(exception, "Webhook delivery {DeliveryId} attempt failed to run", deliveryId);
        }
        catch (OperationCanceledException)
        {
            // Stopping; the lease expires and another instance (or the next start) retries.
        }
        finally
        {
            _inFlight.TryRemove(deliveryId, out _);
            signal.Signal.Set();
        }
    }
}
