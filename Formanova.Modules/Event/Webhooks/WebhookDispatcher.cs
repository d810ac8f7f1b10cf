using System.Collections.Concurrent;
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
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var dispatcher = options.Value.Webhooks.Dispatcher;
        if (!dispatcher.Enabled)
        {
            logger.LogInformation("The built-in webhook dispatcher is off (Event:Webhooks:Dispatcher:Enabled=false)");
            return;
        }

        var interval = TimeSpan.FromMilliseconds(dispatcher.PollIntervalMilliseconds);
        var inFlight = new ConcurrentDictionary<long, Task>();
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = signal.Signal.Next;
            var free = dispatcher.Concurrency - inFlight.Count;
            if (free > 0)
            {
                try
                {
                    var due = await webhooks.ListDueDeliveriesAsync(
                        Math.Min(free + inFlight.Count, WebhookService.MaxListLimit),
                        stoppingToken);
                    foreach (var delivery in due.Where(d => !inFlight.ContainsKey(d.Id)).Take(free))
                    {
                        inFlight[delivery.Id] = AttemptAsync(delivery.Id, inFlight, stoppingToken);
                    }
                }
                catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.LogWarning(exception, "Listing due webhook deliveries failed; retrying");
                }
            }

            await AsyncSignal.WaitAsync(next, interval, time, stoppingToken);
        }

        await Task.WhenAll(inFlight.Values);
    }

    private async Task AttemptAsync(long deliveryId, ConcurrentDictionary<long, Task> inFlight, CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            var result = await webhooks.AttemptDeliveryAsync(deliveryId, stoppingToken);
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
            inFlight.TryRemove(deliveryId, out _);
            signal.Signal.Set();
        }
    }
}
