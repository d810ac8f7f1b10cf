using System.Data.Common;
using Microsoft.Extensions.Logging;

namespace Formanova.Modules.Data.Storage;

/// <summary>
/// One import attempt: batches written through it stay invisible until <see cref="PublishAsync"/>. Disposing an
/// attempt that was neither published nor discarded discards it; if that fails too (the database is down), the
/// sweep deletes its rows once its heartbeat is <see cref="ImportStaging.AbandonedAfter"/> old.
/// </summary>
internal sealed class StagedImport : IAsyncDisposable
{
    private readonly ImportStaging _staging;
    private readonly RowBatchHeader _header;
    private readonly long _floor;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopHeartbeat = new();
    private readonly Task _heartbeat;
    private DbConnection? _connection;
    private TimeSpan _heldSinceBreak;
    private bool _settled;

    internal StagedImport(ImportStaging staging, RowBatchHeader header, long floor, TimeProvider clock, ILogger logger)
    {
        _staging = staging;
        _header = header;
        _floor = floor;
        _clock = clock;
        _logger = logger;
        _heartbeat = HeartbeatAsync(_stopHeartbeat.Token);
    }

    public async Task WriteAsync(IReadOnlyList<EncodedRow> batch, CancellationToken cancellationToken)
    {
        _heldSinceBreak += await _staging.WriteAsync(await ConnectionAsync(cancellationToken), _header, batch, cancellationToken);
        if (_staging.SharesOneWriteLock && _heldSinceBreak >= ImportStaging.WriteLockShare)
        {
            _heldSinceBreak = TimeSpan.Zero;
            await Task.Delay(ImportStaging.WriteLockBreak, _clock, cancellationToken);
        }
    }

    /// <summary>Shows every row at once and records the import; false (rows discarded) when its id was recorded already.</summary>
    public async Task<bool> PublishAsync(string reportJson, long rowCount, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await StopHeartbeatAsync();
        if (await _staging.PublishAsync(await ConnectionAsync(cancellationToken), _header, reportJson, rowCount, now, cancellationToken))
        {
            _settled = true;
            await CloseAsync();
            return true;
        }

        await DiscardAsync();
        return false;
    }

    // One connection for all the attempt's batches rather than one from the pool per batch; holding it between
    // batches holds no lock, on either provider.
    private async ValueTask<DbConnection> ConnectionAsync(CancellationToken cancellationToken) =>
        _connection ??= await _staging.OpenConnectionAsync(cancellationToken);

    private async ValueTask CloseAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }
    }

    /// <summary>Deletes the attempt's rows. It runs to the end even when the request was cancelled.</summary>
    public async Task DiscardAsync()
    {
        _settled = true;
        await StopHeartbeatAsync();
        // After a failure the connection may be broken: the deletes take fresh ones.
        await CloseAsync();
        await _staging.DiscardAsync(_header.DatasetId, _header.AttemptId, _floor, CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_settled)
        {
            try
            {
                await DiscardAsync();
            }
            catch (Exception ex)
            {
                ImportStaging.LogDiscardFailed(_logger, ex, _header.AttemptId);
            }
        }

        await StopHeartbeatAsync();
        await CloseAsync();
        _stopHeartbeat.Dispose();
    }

    private async Task StopHeartbeatAsync()
    {
        if (!_stopHeartbeat.IsCancellationRequested)
        {
            await _stopHeartbeat.CancelAsync();
        }

        await _heartbeat;
    }

    // Batches renew the heartbeat too, but a slow upload can leave minutes between two batches.
    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(ImportStaging.HeartbeatInterval, _clock);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    await _staging.TouchAsync(_header.AttemptId, cancellationToken);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    ImportStaging.LogHeartbeatFailed(_logger, ex, _header.AttemptId);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped: the attempt was published, discarded or disposed.
        }
    }
}
