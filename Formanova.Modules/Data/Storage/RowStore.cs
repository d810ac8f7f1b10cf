using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Dapper;
using Formanova.Modules.Shared.Database;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Formanova.Modules.Data.Storage;

/// <summary>What every row of one import attempt shares.</summary>
internal sealed record RowBatchHeader(long DatasetId, string ImportId, long AttemptId, int SchemaVersion, DateTimeOffset CreatedAt);

/// <summary>One validated row ready to store; the payload usually lies in a block of its <see cref="EncodedBatch"/>.</summary>
internal readonly record struct EncodedRow(long Row, long? EntityHash, ReadOnlyMemory<byte> Payload);

/// <summary>A stored row as read back: values still encoded, in the column order of its own schema version.</summary>
internal readonly record struct StoredRow(long Id, int SchemaVersion, byte[] Payload);

internal sealed class StoredRowMeta
{
    public long Id { get; set; }

    public string ImportId { get; set; } = "";

    public int SchemaVersion { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public byte[] Payload { get; set; } = [];
}

/// <summary>Writes rows of one import attempt inside the caller's transaction.</summary>
internal interface IRowSink : IAsyncDisposable
{
    ValueTask WriteAsync(long rowNumber, long? entityHash, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);

    /// <summary>Flushes what is buffered; without it, disposing abandons the rows (and the transaction rolls back).</summary>
    ValueTask CompleteAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Row storage. The bulk write path is the only provider-specific code in the module: binary COPY on PostgreSQL,
/// prepared multi-row INSERTs on SQLite, each inside one of the import's short batch transactions. Every read
/// skips the rows of attempts still listed in data_import_attempts (see <see cref="ImportStaging"/>).
/// </summary>
internal sealed partial class RowStore(
    IDatabase database,
    Microsoft.Extensions.Options.IOptions<DataOptions> options,
    ILogger<RowStore> logger)
{
    internal const string InsertColumns = "dataset_id, import_id, attempt_id, row_number, schema_version, entity_hash, created_at, payload";

    private const string CopyRows = $"COPY data_rows ({InsertColumns}) FROM STDIN (FORMAT BINARY)";

    /// <summary>
    /// A row is visible unless the attempt that wrote it is still unfinished. Both subqueries are uncorrelated, so
    /// each runs once per statement (in the statement's one snapshot) and the key-ordered scans keep their plans.
    /// While the dataset has no unfinished attempt, the first term is true for every row and the probe is skipped:
    /// that probe (a hashed subplan) cost PostgreSQL 0.7 µs a row, 60 % more for a whole streamed read.
    /// </summary>
    private const string Visible = """
        (NOT EXISTS (SELECT 1 FROM data_import_attempts WHERE dataset_id = @DatasetId) OR attempt_id IS NULL
         OR attempt_id NOT IN (SELECT id FROM data_import_attempts WHERE dataset_id = @DatasetId))
        """;

    private const string SelectPage = $"""
        SELECT id, import_id, schema_version, created_at, payload FROM data_rows
        WHERE dataset_id = @DatasetId AND id > @After AND {Visible} ORDER BY id LIMIT @Limit
        """;

    internal const string SelectChunk = $"""
        SELECT id, schema_version, payload FROM data_rows
        WHERE dataset_id = @DatasetId AND id > @After AND {Visible} ORDER BY id LIMIT @Limit
        """;

    // Every chunkSize-th id closes a range. Each step walks the key index from the last end, skipping chunkSize - 1
    // ids: no payload is read, and unlike numbering every row with a window function, nothing is kept per row
    // (about three times faster on 1M rows).
    private const string SelectRangeEnds = $"""
        WITH RECURSIVE ends(id) AS (
            SELECT (SELECT id FROM data_rows WHERE dataset_id = @DatasetId AND {Visible} ORDER BY id LIMIT 1 OFFSET @Skip)
            UNION ALL
            SELECT (SELECT r.id FROM data_rows r
                    WHERE r.dataset_id = @DatasetId AND r.id > ends.id AND {Visible} ORDER BY r.id LIMIT 1 OFFSET @Skip)
            FROM ends WHERE ends.id IS NOT NULL
        )
        SELECT id FROM ends WHERE id IS NOT NULL ORDER BY id
        """;

    private const string CountRowsAfter = $"SELECT COUNT(*) FROM data_rows WHERE dataset_id = @DatasetId AND id > @After AND {Visible}";

    // Only the columns the keyset reads filter and order by: a full ANALYZE also samples every payload for widths.
    private const string AnalyzeRows = "ANALYZE data_rows (dataset_id, id)";

    private const string SelectByEntity = $"""
        SELECT id, import_id, schema_version, created_at, payload FROM data_rows
        WHERE dataset_id = @DatasetId AND entity_hash = @EntityHash AND {Visible} ORDER BY id DESC LIMIT 16
        """;

    // Deletes go by windows of ids from the dataset's next row, each a range of the (dataset_id, id) key, and no
    // condition outside the key decides where a window starts. A first version, DELETE ... WHERE id IN (SELECT id
    // ... ORDER BY id LIMIT n), ran past the 30 s command timeout on PostgreSQL for one 5,000-row chunk of a
    // 50,000-row dataset right after its import, before the table's statistics knew the dataset.
    private const string FirstRowAfter = "SELECT MIN(id) FROM data_rows WHERE dataset_id = @DatasetId AND id > @After";

    private const string DeleteIdRange = "DELETE FROM data_rows WHERE dataset_id = @DatasetId AND id >= @From AND id < @Until";

    private const string DeleteAttemptIdRange
        = "DELETE FROM data_rows WHERE dataset_id = @DatasetId AND id >= @From AND id < @Until AND attempt_id = @AttemptId";

    /// <summary>Writes <paramref name="rows"/> inside the caller's transaction.</summary>
    public async Task WriteAsync(
        DbConnection connection,
        DbTransaction transaction,
        RowBatchHeader header,
        IReadOnlyList<EncodedRow> rows,
        CancellationToken cancellationToken)
    {
        await using var sink = await BeginWriteAsync(connection, transaction, header, cancellationToken);
        foreach (var row in rows)
        {
            await sink.WriteAsync(row.Row, row.EntityHash, row.Payload, cancellationToken);
        }

        await sink.CompleteAsync(cancellationToken);
    }

    private async ValueTask<IRowSink> BeginWriteAsync(
        DbConnection connection,
        DbTransaction transaction,
        RowBatchHeader header,
        CancellationToken cancellationToken)
    {
        if (database.Dialect.Provider == DatabaseProvider.Postgres)
        {
            var importer = await ((NpgsqlConnection)connection).BeginBinaryImportAsync(CopyRows, cancellationToken);
            return new PostgresRowSink(importer, header);
        }

        return SqliteRowSink.Create(
            (SqliteConnection)connection,
            (SqliteTransaction)transaction,
            header,
            options.Value.Import.SqliteBatchRows);
    }

    /// <summary>
    /// Call after a committed bulk write. PostgreSQL's planner estimates a dataset's rows from the table statistics,
    /// which a bulk COPY leaves stale until autovacuum gets to them (a minute or more). With a new dataset missing
    /// from them, the estimate is a few thousand rows, and every keyset chunk of <see cref="StreamAsync"/> was planned
    /// as a bitmap scan of all the dataset's remaining rows plus a sort spilled to disk, instead of an ordered index
    /// range scan that stops after one chunk: the read became quadratic in the dataset size (0.17× a raw read at 1M
    /// rows). A write smaller than one chunk cannot cause that, so it skips the cost (about 0.2 s on 1M rows).
    /// </summary>
    public async Task RefreshStatisticsAsync(long rowsWritten, CancellationToken cancellationToken)
    {
        if (database.Dialect.Provider != DatabaseProvider.Postgres || rowsWritten < options.Value.StreamChunkRows)
        {
            return;
        }

        try
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(AnalyzeRows, commandTimeout: 0, cancellationToken: cancellationToken));
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException)
        {
            // The rows are committed: the import succeeded, and autovacuum will analyze the table later.
            LogAnalyzeFailed(logger, ex, rowsWritten);
        }
    }

    [LoggerMessage(
        Level = LogLevel.Warning,
        Message = "ANALYZE data_rows after a bulk write of {Rows} rows failed; "
            + "streamed reads may be slow until autovacuum analyzes the table")]
    private static partial void LogAnalyzeFailed(ILogger logger, Exception exception, long rows);

    public async Task<IReadOnlyList<StoredRowMeta>> ReadPageAsync(
        long datasetId,
        long after,
        int limit,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<StoredRowMeta>(new CommandDefinition(
            SelectPage,
            new { DatasetId = datasetId, After = after, Limit = limit },
            cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>The row count and the cursor before each range of <paramref name="chunkSize"/> rows.</summary>
    public async Task<(long Total, List<long> Cursors)> PlanRangesAsync(long datasetId, int chunkSize, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var ends = (await connection.QueryAsync<long>(new CommandDefinition(
            SelectRangeEnds,
            new { DatasetId = datasetId, Skip = chunkSize - 1 },
            commandTimeout: 0,
            cancellationToken: cancellationToken))).AsList();
        var last = ends.Count > 0 ? ends[^1] : 0;
        var tail = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            CountRowsAfter,
            new { DatasetId = datasetId, After = last },
            commandTimeout: 0,
            cancellationToken: cancellationToken));
        var total = ((long)ends.Count * chunkSize) + tail;
        if (total == 0)
        {
            return (0, []);
        }

        // The end of the last range opens a further range only when rows follow it.
        var cursors = new List<long>(ends.Count + 1) { 0 };
        cursors.AddRange(tail == 0 ? ends.Take(ends.Count - 1) : ends);
        return (total, cursors);
    }

    /// <summary>At most <paramref name="limit"/> rows after <paramref name="after"/> in one keyset query.</summary>
    public async Task<List<StoredRow>> ReadRangeAsync(long datasetId, long after, int limit, CancellationToken cancellationToken)
    {
        var range = new List<StoredRow>(Math.Min(limit, 100_000));
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await foreach (var row in ReadChunkAsync(connection, datasetId, after, limit, cancellationToken))
        {
            range.Add(row);
        }

        return range;
    }

    /// <summary>One keyset query: the rows after <paramref name="after"/> in id order, at most <paramref name="limit"/>.</summary>
    private static async IAsyncEnumerable<StoredRow> ReadChunkAsync(
        DbConnection connection,
        long datasetId,
        long after,
        int limit,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var reader = await connection.ExecuteReaderAsync(
            new CommandDefinition(
                SelectChunk,
                new { DatasetId = datasetId, After = after, Limit = limit },
                commandTimeout: 0,
                cancellationToken: cancellationToken),
            CommandBehavior.SequentialAccess);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new StoredRow(reader.GetInt64(0), reader.GetInt32(1), reader.GetFieldValue<byte[]>(2));
        }
    }

    /// <summary>
    /// Deletes the rows of a dataset (of one attempt only, when given) among the <paramref name="span"/> ids from the
    /// dataset's first row after <paramref name="after"/>, in one short statement; returns the last id of that window,
    /// to pass as <paramref name="after"/> next, or null when the dataset has no row after it.
    /// </summary>
    public async Task<long?> DeleteChunkAsync(long datasetId, long? attemptId, long after, int span, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var parameters = new { DatasetId = datasetId, After = after };
        if (await connection.ExecuteScalarAsync<long?>(
            new CommandDefinition(FirstRowAfter, parameters, cancellationToken: cancellationToken)) is not { } from)
        {
            return null;
        }

        await connection.ExecuteAsync(new CommandDefinition(
            attemptId is null ? DeleteIdRange : DeleteAttemptIdRange,
            new { DatasetId = datasetId, AttemptId = attemptId, From = from, Until = from + span },
            cancellationToken: cancellationToken));
        return from + span - 1;
    }

    /// <summary>The newest rows whose entity hash matches; the caller confirms the value (hashes can collide).</summary>
    public async Task<IReadOnlyList<StoredRowMeta>> FindByEntityHashAsync(
        long datasetId,
        long entityHash,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<StoredRowMeta>(new CommandDefinition(
            SelectByEntity,
            new { DatasetId = datasetId, EntityHash = entityHash },
            cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>
    /// Every row of a dataset in id order, unbuffered, in keyset chunks of <c>Data:StreamChunkRows</c>: nothing is
    /// accumulated, no cursor or transaction stays open for the whole read, and a consumer that stops early (a preview,
    /// a cancelled training run) leaves at most one chunk for the driver to drain. Rows committed during the read may
    /// or may not be included; none is returned twice.
    /// </summary>
    public async IAsyncEnumerable<StoredRow> StreamAsync(long datasetId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var chunk = options.Value.StreamChunkRows;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var after = 0L;
        while (true)
        {
            var read = 0;
            await foreach (var row in ReadChunkAsync(connection, datasetId, after, chunk, cancellationToken))
            {
                read++;
                after = row.Id;
                yield return row;
            }

            if (read < chunk)
            {
                yield break;
            }
        }
    }

    private sealed class PostgresRowSink(NpgsqlBinaryImporter importer, RowBatchHeader header) : IRowSink
    {
        public async ValueTask WriteAsync(
            long rowNumber,
            long? entityHash,
            ReadOnlyMemory<byte> payload,
            CancellationToken cancellationToken)
        {
            await importer.StartRowAsync(cancellationToken);
            await importer.WriteAsync(header.DatasetId, NpgsqlDbType.Bigint, cancellationToken);
            await importer.WriteAsync(header.ImportId, NpgsqlDbType.Text, cancellationToken);
            await importer.WriteAsync(header.AttemptId, NpgsqlDbType.Bigint, cancellationToken);
            await importer.WriteAsync(rowNumber, NpgsqlDbType.Bigint, cancellationToken);
            await importer.WriteAsync(header.SchemaVersion, NpgsqlDbType.Integer, cancellationToken);
            if (entityHash is { } hash)
            {
                await importer.WriteAsync(hash, NpgsqlDbType.Bigint, cancellationToken);
            }
            else
            {
                await importer.WriteNullAsync(cancellationToken);
            }

            await importer.WriteAsync(header.CreatedAt.ToUniversalTime(), NpgsqlDbType.TimestampTz, cancellationToken);
            await importer.WriteAsync(payload, NpgsqlDbType.Bytea, cancellationToken);
        }

        public async ValueTask CompleteAsync(CancellationToken cancellationToken) => await importer.CompleteAsync(cancellationToken);

        public ValueTask DisposeAsync() => importer.DisposeAsync();
    }
}
