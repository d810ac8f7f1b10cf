using System.Data.Common;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Dapper;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Data.Storage;

/// <summary>
/// Writes an import's rows in short transactions that stay invisible until one final transaction shows them all.
/// One transaction over a whole import held SQLite's single write lock for as long as the upload and its
/// validation took (45 s for a 23 KB upload with a slow pattern), and every other writer (event publishing,
/// dataset creation) waited or timed out. Now each transaction writes one batch that is already parsed and
/// validated, so the lock is held for one batch at a time, and a failed, rejected or abandoned import leaves
/// nothing a reader can see. The rules that keep published rows safe:
/// <list type="bullet">
/// <item>an attempt is published only while its state is 'writing', in the transaction that records the import;</item>
/// <item>its rows are deleted only after its state became 'discarding' in a transaction that found it, so a
/// published attempt (no longer listed) never loses a row;</item>
/// <item>a batch is written only in a transaction that finds the attempt still 'writing'.</item>
/// </list>
/// </summary>
internal sealed partial class ImportStaging(
    IDatabase database,
    RowStore rows,
    DatasetRepository datasets,
    IOptions<DataOptions> options,
    FormanovaMetrics metrics,
    TimeProvider clock,
    ILogger<ImportStaging> logger)
{
    /// <summary>The bound this class exists for, observable in production: how long one batch holds its transaction.</summary>
    private readonly Histogram<double> _batchDuration = metrics.Meter.CreateHistogram<double>(
        "formanova.data.import.batch.duration",
        "s",
        "Time one import batch holds its write transaction (on SQLite, the database's write lock), from BEGIN to COMMIT.");

    /// <summary>
    /// Ids per delete statement (so at most this many rows) when a discarded attempt or a deleted dataset's rows are removed.
    /// </summary>
    public const int DeleteChunkRows = 5_000;

    /// <summary>Encoded bytes that close a batch before Data:Import:CommitRows rows do (wide rows).</summary>
    public const int CommitBytes = 4 << 20;

    /// <summary>How often a running import shows it is alive, also while it waits for the upload.</summary>
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(15);

    /// <summary>An attempt without a heartbeat for this long belongs to a process that died; its rows are deleted.</summary>
    public static readonly TimeSpan AbandonedAfter = TimeSpan.FromMinutes(2);

    private const string InsertAttempt = """
        INSERT INTO data_import_attempts (dataset_id, import_id, state, floor_row_id, started_at, heartbeat_at)
        SELECT @DatasetId, @ImportId, 'writing', (SELECT COALESCE(MAX(id), 0) FROM data_rows WHERE dataset_id = @DatasetId), @Now, @Now
        WHERE EXISTS (SELECT 1 FROM data_datasets WHERE id = @DatasetId)
        RETURNING id, floor_row_id
        """;

    private const string Touch = "UPDATE data_import_attempts SET heartbeat_at = @Now WHERE id = @Id AND state = 'writing'";

    private const string Finish = "DELETE FROM data_import_attempts WHERE id = @Id AND state = 'writing'";

    private const string MarkDiscarding = "UPDATE data_import_attempts SET state = 'discarding' WHERE id = @Id";

    private const string Forget = "DELETE FROM data_import_attempts WHERE id = @Id";

    private const string SelectAbandoned
        = "SELECT id, dataset_id, floor_row_id FROM data_import_attempts WHERE heartbeat_at < @Cutoff ORDER BY id";

    // The heartbeat is checked again: the owner may have shown itself alive since the attempt was selected.
    private const string ClaimAbandoned = "UPDATE data_import_attempts SET state = 'discarding' WHERE id = @Id AND heartbeat_at < @Cutoff";

    private const string SelectPurges = "SELECT dataset_id FROM data_row_purges WHERE requested_at < @Cutoff ORDER BY dataset_id";

    // Attempts the dataset's deletion marked 'discarding' have lost every row with the dataset's. One that began
    // while the deletion ran is still 'writing': its owner fails to publish it and discards it, or the sweep does.
    private const string FinishPurge = """
        DELETE FROM data_import_attempts WHERE dataset_id = @DatasetId AND state = 'discarding';
        DELETE FROM data_row_purges WHERE dataset_id = @DatasetId;
        """;

    /// <summary>
    /// A batch for one import. With 5,000-row batches a PostgreSQL import of 500,000 rows took 20-40 % longer than in
    /// one transaction, and with 50,000 no longer (on the project's 2-core box, under shared load).
    /// </summary>
    public RowBatch NewBatch()
        => new(options.Value.Import.CommitRows ?? (database.Dialect.SingleWriter ? 5_000 : 50_000));

    /// <summary>Registers an attempt for <paramref name="importId"/>; its rows stay invisible until it is published.</summary>
    public async Task<StagedImport> BeginAsync(
        long datasetId,
        string importId,
        int schemaVersion,
        DateTimeOffset started,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var attempt = await connection.QuerySingleOrDefaultAsync<AttemptRow>(new CommandDefinition(
            InsertAttempt, new
            {
                DatasetId = datasetId,
                ImportId = importId,
                Now = clock
                .GetUtcNow()
            }, cancellationToken: cancellationToken))
            ?? throw DatasetNotFound(datasetId);
        return new StagedImport(
            this,
            new RowBatchHeader(datasetId, importId, attempt.Id, schemaVersion, started),
            attempt.FloorRowId,
            clock,
            logger);
    }

    internal ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
        => database.OpenConnectionAsync(cancellationToken);

    /// <summary>
    /// After holding SQLite's write lock this long in total, an import leaves it free for <see cref="WriteLockBreak"/>.
    /// SQLite keeps no queue of waiting writers: each retries on its own schedule, at most 100 ms apart, so while
    /// batches followed each other without a gap a waiting publish could miss every gap for seconds.
    /// </summary>
    public static readonly TimeSpan WriteLockShare = TimeSpan.FromSeconds(1);

    /// <summary>Longer than SQLite's longest retry interval (100 ms), so every writer waiting then retries inside it.</summary>
    public static readonly TimeSpan WriteLockBreak = TimeSpan.FromMilliseconds(120);

    /// <summary>
    /// One short transaction: the attempt is still 'writing' (its heartbeat is renewed), then the rows; returns how long
    /// it held the transaction.
    /// </summary>
    internal async Task<TimeSpan> WriteAsync(
        DbConnection connection,
        RowBatchHeader header,
        IReadOnlyList<EncodedRow> batch,
        CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var began = Stopwatch.GetTimestamp();
        if (await connection.ExecuteAsync(new CommandDefinition(
            Touch,
            new { Id = header.AttemptId, Now = clock.GetUtcNow() },
            transaction,
            cancellationToken: cancellationToken)) == 0)
        {
            await transaction.RollbackAsync(cancellationToken);
            throw await LostAsync(header.DatasetId);
        }

        await rows.WriteAsync(connection, transaction, header, batch, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        var held = Stopwatch.GetElapsedTime(began);
        _batchDuration.Record(held.TotalSeconds);
        return held;
    }

    /// <summary>Whether writers wait for one another's transactions (SQLite), so that an import must share the lock.</summary>
    internal bool SharesOneWriteLock => database.Dialect.SingleWriter;

    internal async Task TouchAsync(long attemptId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(
            new CommandDefinition(Touch, new { Id = attemptId, Now = clock.GetUtcNow() }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// The final transaction: the attempt leaves the list (its rows become visible) and the import is recorded with
    /// its row count, or neither. False when another attempt already recorded this import id.
    /// </summary>
    internal async Task<bool> PublishAsync(
        DbConnection connection,
        RowBatchHeader header,
        string reportJson,
        long rowCount,
        DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await connection.ExecuteAsync(
            new CommandDefinition(Finish, new { Id = header.AttemptId }, transaction, cancellationToken: cancellationToken)) == 0)
        {
            await transaction.RollbackAsync(cancellationToken);
            throw await LostAsync(header.DatasetId);
        }

        var outcome = await DatasetRepository.TryRecordImportAsync(
            connection,
            transaction,
            header.DatasetId,
            header.ImportId,
            reportJson,
            rowCount,
            now,
            cancellationToken);
        if (outcome != ImportRecord.Recorded)
        {
            await transaction.RollbackAsync(cancellationToken);
            return outcome == ImportRecord.AlreadyRecorded ? false : throw DatasetNotFound(header.DatasetId);
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Deletes an unpublished attempt's rows in short chunks, then the attempt; nothing when it was published.</summary>
    internal async Task DiscardAsync(long datasetId, long attemptId, long floor, CancellationToken cancellationToken)
    {
        await using (var connection = await database.OpenConnectionAsync(cancellationToken))
        {
            if (await connection.ExecuteAsync(
                new CommandDefinition(MarkDiscarding, new { Id = attemptId }, cancellationToken: cancellationToken)) == 0)
            {
                return;
            }
        }

        await DeleteRowsAsync(datasetId, attemptId, floor, cancellationToken);
        await using var forget = await database.OpenConnectionAsync(cancellationToken);
        await forget.ExecuteAsync(new CommandDefinition(Forget, new { Id = attemptId }, cancellationToken: cancellationToken));
    }

    /// <summary>Deletes a deleted dataset's rows in short chunks, then its purge record.</summary>
    public async Task PurgeDatasetAsync(long datasetId, CancellationToken cancellationToken)
    {
        await DeleteRowsAsync(datasetId, attemptId: null, after: 0, cancellationToken);
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(
            new CommandDefinition(FinishPurge, new { DatasetId = datasetId }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Removes the rows of attempts whose process stopped renewing their heartbeat and finishes dataset purges that
    /// were interrupted; returns how many attempts and purges it finished. Looking for them is a poll and is not
    /// traced; finishing them is work, under a root span <c>SweepStagedRows</c> (docs/observability.md).
    /// </summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var cutoff = clock.GetUtcNow() - AbandonedAfter;
        List<AttemptRow> abandoned;
        List<long> purges;
        using (BackgroundTracing.Quiet())
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            abandoned = (await connection.QueryAsync<AttemptRow>(
                new CommandDefinition(SelectAbandoned, new { Cutoff = cutoff }, cancellationToken: cancellationToken))).AsList();
            purges = (await connection.QueryAsync<long>(
                new CommandDefinition(SelectPurges, new { Cutoff = cutoff }, cancellationToken: cancellationToken))).AsList();
        }

        if (abandoned.Count == 0 && purges.Count == 0)
        {
            return 0;
        }

        return await BackgroundTracing.WorkAsync("SweepStagedRows", async span =>
        {
            span?.SetTag("formanova.data.abandoned_imports", abandoned.Count);
            span?.SetTag("formanova.data.purges", purges.Count);
            var finished = 0;
            foreach (var attempt in abandoned)
            {
                await using (var connection = await database.OpenConnectionAsync(cancellationToken))
                {
                    var claimed = await connection.ExecuteAsync(
                        new CommandDefinition(ClaimAbandoned, new { attempt.Id, Cutoff = cutoff }, cancellationToken: cancellationToken));
                    if (claimed == 0)
                    {
                        continue;
                    }
                }

                LogAbandoned(logger, attempt.Id, attempt.DatasetId);
                await DeleteRowsAsync(attempt.DatasetId, attempt.Id, attempt.FloorRowId, cancellationToken);
                await using var forget = await database.OpenConnectionAsync(cancellationToken);
                await forget.ExecuteAsync(new CommandDefinition(Forget, new { attempt.Id }, cancellationToken: cancellationToken));
                finished++;
            }

            foreach (var datasetId in purges)
            {
                await PurgeDatasetAsync(datasetId, cancellationToken);
                finished++;
            }

            return finished;
        });
    }

    private async Task DeleteRowsAsync(long datasetId, long? attemptId, long after, CancellationToken cancellationToken)
    {
        while (await rows.DeleteChunkAsync(datasetId, attemptId, after, DeleteChunkRows, cancellationToken) is { } last)
        {
            after = last;
        }
    }

    /// <summary>Why a batch or the publication found its attempt gone: the dataset was deleted, or the attempt was swept.</summary>
    private async Task<ModuleException> LostAsync(long datasetId) =>
        await datasets.GetAsync(datasetId, CancellationToken.None) is null
            ? DatasetNotFound(datasetId)
            : new ModuleException(
                ErrorKind.Unavailable,
                $"The import made no progress for {AbandonedAfter.TotalMinutes:0} minutes, so its rows were discarded; "
                + "nothing was stored. Retry it.");

    private static ModuleException DatasetNotFound(long datasetId) =>
        ModuleException.NotFound("Dataset", datasetId.ToString(System.Globalization.CultureInfo.InvariantCulture));

    [LoggerMessage(
        Level = LogLevel.Warning,
        Message = "Import attempt {AttemptId} of dataset {DatasetId} stopped renewing its heartbeat; deleting its unpublished rows")]
    private static partial void LogAbandoned(ILogger logger, long attemptId, long datasetId);

    [LoggerMessage(
        Level = LogLevel.Warning,
        Message = "Renewing the heartbeat of import attempt {AttemptId} failed; the next renewal retries")]
    internal static partial void LogHeartbeatFailed(ILogger logger, Exception exception, long attemptId);

    [LoggerMessage(
        Level = LogLevel.Warning,
        Message = "Discarding import attempt {AttemptId} failed; the sweep deletes its rows once it is abandoned")]
    internal static partial void LogDiscardFailed(ILogger logger, Exception exception, long attemptId);

    private sealed class AttemptRow
    {
        public long Id { get; set; }

        public long DatasetId { get; set; }

        public long FloorRowId { get; set; }
    }
}
