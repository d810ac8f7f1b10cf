using Formanova.Modules.Event.Webhooks;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Event.Log;

/// <summary>
/// Deletes events older than Event:RetentionDays, and finished deliveries as old, in small chunks so writers are never
/// blocked for long.
/// </summary>
internal sealed class EventRetention(
    EventStore events,
    WebhookStore webhooks,
    IOptions<EventOptions> options,
    TimeProvider time,
    ILogger<EventRetention> logger) : BackgroundService
{
    private const int Chunk = 5_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(options.Value.RetentionSweepMinutes), time);
        do
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(exception, "Event retention sweep failed; the next sweep retries");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>
    /// One sweep, not traced: its deletes are at once the poll and the work, and an idle host would export them every
    /// hour for nothing. The Information line reports a sweep that removed events.
    /// </summary>
    internal async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        using var quiet = BackgroundTracing.Quiet();
        var cutoff = time.GetUtcNow().AddDays(-options.Value.RetentionDays);
        var total = 0;
        int deleted;
        do
        {
            deleted = await events.DeleteOlderThanAsync(cutoff, Chunk, cancellationToken);
            total += deleted;
        }
        while (deleted == Chunk);

        await webhooks.DeleteFinishedBeforeAsync(cutoff, cancellationToken);
        if (total > 0)
        {
            logger.LogInformation("Event retention removed {Count} events older than {Cutoff:O}", total, cutoff);
        }

        return total;
    }
}
