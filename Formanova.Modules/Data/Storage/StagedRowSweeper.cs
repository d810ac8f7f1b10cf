using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Formanova.Modules.Data.Storage;

/// <summary>
/// At start-up and then every minute, deletes the unpublished rows of imports whose process died (no heartbeat for
/// <see cref="ImportStaging.AbandonedAfter"/>) and finishes dataset deletions that stopped half-way. Readers never
/// see those rows either way; this gives the space back.
/// </summary>
internal sealed partial class StagedRowSweeper(
    ImportStaging staging,
    TimeProvider clock,
    ILogger<StagedRowSweeper> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, clock);
        do
        {
            try
            {
                if (await staging.SweepAsync(stoppingToken) is > 0 and var finished)
                {
                    LogSwept(logger, finished);
                }
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                LogSweepFailed(logger, exception);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed the rows of {Count} abandoned imports or deleted datasets")]
    private static partial void LogSwept(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sweeping abandoned import rows failed; the next sweep retries")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
