using System.Data;
using System.Globalization;
using System.Text;
using Dapper;
using Formanova.Modules.Shared.Database;
using Npgsql;
using NpgsqlTypes;

namespace Formanova.Modules.Event.Log;

/// <summary>An event waiting for the appender; Key is the idempotency key (generated when the publisher gave none).</summary>
internal sealed record PendingEvent(
    string Key,
    string Type,
    string Source,
    string? Subject,
    DateTimeOffset Time,
    string? CorrelationId,
    string? Data,
    string? DataRef = null);

/// <summary>The filter shared by history queries, SSE replay and live subscribers.</summary>
internal sealed record EventFilter(IReadOnlyList<string> Types, string? Source)
{
    public static readonly EventFilter All = new([], null);

    public bool Matches(EventRow row) =>
        (Types.Count == 0 || Types.Contains(row.Type, StringComparer.Ordinal)) && EventRules.SourceMatches(row.Source, Source);
}

internal sealed class EventStore(IDatabase database)
{
    // Any constant works; it only has to differ from the migrator's lock key.
    private const long AppendLockKey = 0x466E_4576_656E_74;

    private const string InsertPrefix = """
        INSERT INTO event_log (idempotency_key, type, source, subject, time, correlation_id, data, dataref)
        VALUES
        """;

    private const string InsertSuffix = """

        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id, idempotency_key
        """;

    private const string PostgresLock = "SELECT pg_advisory_xact_lock($1)";

    private const string PostgresInsert = """
        INSERT INTO event_log (idempotency_key, type, source, subject, time, correlation_id, data, dataref)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[])
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id, idempotency_key
        """;

    private const string SelectColumns
        = "SELECT id, idempotency_key, type, source, subject, time, correlation_id, data, dataref FROM event_log";

    private const string SelectByKeys = SelectColumns + " WHERE idempotency_key IN ";

    private const string SelectById = SelectColumns + " WHERE id = @Id";

    private const string SelectMaxId = "SELECT COALESCE(MAX(id), 0) FROM event_log";

    private const string DeleteOlderThan = """
        DELETE FROM event_log WHERE id IN (SELECT id FROM event_log WHERE time < @Cutoff ORDER BY id LIMIT @Limit)
        """;

    /// <summary>
    /// Appends a batch atomically and returns, for each input, the stored row and whether this call created it.
    /// PostgreSQL: the advisory lock and the INSERT go in one batch, which the server runs as one implicit
    /// transaction ending at the batch's Sync, so the lock is held until commit and identity values are taken and
    /// committed in the same order on every instance, for a single round trip. SQLite has one writer already.
    /// </summary>
    public async Task<IReadOnlyList<(EventRow Row, bool Created)>> AppendAsync(
        IReadOnlyList<PendingEvent> batch,
        CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return [];
        }

        var distinct = batch.DistinctBy(e => e.Key, StringComparer.Ordinal).ToList();
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        Dictionary<string, long> inserted;
        if (connection is NpgsqlConnection npgsql)
        {
            inserted = await InsertPostgresAsync(npgsql, distinct, cancellationToken);
        }
        else
        {
            var (sql, parameters) = BuildInsert(distinct);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            inserted = (await connection.QueryAsync<InsertedKey>(
                new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken)))
                .ToDictionary(k => k.IdempotencyKey, k => k.Id, StringComparer.Ordinal);
            await transaction.CommitAsync(cancellationToken);
        }

        var rows = new Dictionary<string, (EventRow Row, bool Created)>(StringComparer.Ordinal);
        foreach (var pending in distinct)
        {
            if (inserted.TryGetValue(pending.Key, out var id))
            {
                rows[pending.Key] = (new EventRow
                {
                    Id = id,
                    IdempotencyKey = pending.Key,
                    Type = pending.Type,
                    Source = pending.Source,
                    Subject = pending.Subject,
                    Time = pending.Time,
                    CorrelationId = pending.CorrelationId,
                    Data = pending.Data,
                    DataRef = pending.DataRef,
                }, true);
            }
        }

        // Keys that conflicted belong to rows committed earlier (appends are serialised), so they are visible now.
        var existingKeys = distinct.Where(e => !inserted.ContainsKey(e.Key)).Select(e => e.Key).ToList();
        if (existingKeys.Count > 0)
        {
            var keyParameters = new DynamicParameters();
            var keySql = SelectByKeys + InList("key", existingKeys, keyParameters);
            foreach (var row in await connection.QueryAsync<EventRow>(
                new CommandDefinition(keySql, keyParameters, cancellationToken: cancellationToken)))
            {
                rows[row.IdempotencyKey] = (row, false);
            }
        }

        // A key repeated inside one batch: the first occurrence created the row, the later ones see it as existing.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return batch.Select(e =>
        {
            var (row, created) = rows[e.Key];
            return (row, created && seen.Add(e.Key));
        }).ToList();
    }

    /// <summary>
    /// The one PostgreSQL-specific path. Column arrays through unnest keep the statement text and its eight
    /// parameters the same for every batch size (a VALUES list with 7×N parameters cost more client time than
    /// the server's work). The lock and the INSERT travel as one batch, which the server runs as one implicit
    /// transaction ending at the batch's Sync: the lock is held to commit, so identity values are taken and
    /// committed in the same order on every instance, in a single round trip.
    /// </summary>
    private static async Task<Dictionary<string, long>> InsertPostgresAsync(
        NpgsqlConnection connection,
        IReadOnlyList<PendingEvent> events,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlBatch(connection);
        var lockCommand = new NpgsqlBatchCommand(PostgresLock);
        lockCommand.Parameters.Add(new NpgsqlParameter<long> { TypedValue = AppendLockKey });
        command.BatchCommands.Add(lockCommand);
        var insert = new NpgsqlBatchCommand(PostgresInsert);
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = events.Select(e => e.Key).ToArray() });
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = events.Select(e => e.Type).ToArray() });
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = events.Select(e => e.Source).ToArray() });
        insert.Parameters.Add(new NpgsqlParameter<string?[]>
        {
            TypedValue = events.Select(e => e.Subject).ToArray(),
            NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text
        });
        insert.Parameters.Add(new NpgsqlParameter<DateTime[]>
        {
            TypedValue = events.Select(e => e.Time.UtcDateTime).ToArray(),
            NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz
        });
        insert.Parameters.Add(new NpgsqlParameter<string?[]>
        {
            TypedValue = events.Select(e => e.CorrelationId).ToArray(),
            NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text
        });
        insert.Parameters.Add(new NpgsqlParameter<string?[]>
        {
            TypedValue = events.Select(e => e.Data).ToArray(),
            NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text
        });
        insert.Parameters.Add(new NpgsqlParameter<string?[]>
        {
            TypedValue = events.Select(e => e.DataRef).ToArray(),
            NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text
        });
        command.BatchCommands.Add(insert);

        var inserted = new Dictionary<string, long>(events.Count, StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            inserted[reader.GetString(1)] = reader.GetInt64(0);
        }

        return inserted;
    }

    public async Task<IReadOnlyList<EventRow>> ReadAfterAsync(
        long after,
        EventFilter filter,
        int limit,
        long? upTo,
        CancellationToken cancellationToken)
    {
        var sql = new StringBuilder(SelectColumns).Append(" WHERE id > @After");
        var parameters = new DynamicParameters();
        parameters.Add("After", after);
        parameters.Add("Limit", limit);
        if (upTo is { } bound)
        {
            sql.Append(" AND id <= @UpTo");
            parameters.Add("UpTo", bound);
        }

        if (filter.Types.Count > 0)
        {
            sql.Append(" AND type IN ").Append(InList("type", filter.Types, parameters));
        }

        if (filter.Source is { } source)
        {
            var prefix = EventRules.SourcePrefix(source);
            sql.Append(" AND (source = @Source OR SUBSTR(source, 1, @PrefixLength) = @Prefix)");
            parameters.Add("Source", source);
            parameters.Add("Prefix", prefix);
            parameters.Add("PrefixLength", prefix.Length);
        }

        sql.Append(" ORDER BY id LIMIT @Limit");
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<EventRow>(
            new CommandDefinition(sql.ToString(), parameters, cancellationToken: cancellationToken))).AsList();
    }

    public async Task<EventRow?> GetAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<EventRow>(
            new CommandDefinition(SelectById, new { Id = id }, cancellationToken: cancellationToken));
    }

    public async Task<long> MaxIdAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(SelectMaxId, cancellationToken: cancellationToken));
    }

    /// <summary>Deletes at most <paramref name="limit"/> events older than the cutoff; returns how many went.</summary>
    public async Task<int> DeleteOlderThanAsync(DateTimeOffset cutoff, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(
            new CommandDefinition(DeleteOlderThan, new { Cutoff = cutoff, Limit = limit }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// "(@p0, @p1, …)" with one parameter each: Dapper's own "IN @list" expansion is skipped for Npgsql (it passes
    /// an array instead), so a portable IN list is spelled out.
    /// </summary>
    private static string InList(string prefix, IReadOnlyList<string> values, DynamicParameters parameters)
    {
        var names = new string[values.Count];
        for (var i = 0; i < values.Count; i++)
        {
            names[i] = "@" + prefix + i.ToString(CultureInfo.InvariantCulture);
            parameters.Add(names[i][1..], values[i], DbType.String);
        }

        return "(" + string.Join(", ", names) + ")";
    }

    private static (string Sql, DynamicParameters Parameters) BuildInsert(IReadOnlyList<PendingEvent> events)
    {
        var sql = new StringBuilder(InsertPrefix, InsertPrefix.Length + InsertSuffix.Length + (events.Count * 64));
        var parameters = new DynamicParameters();
        for (var i = 0; i < events.Count; i++)
        {
            var n = i.ToString(CultureInfo.InvariantCulture);
            sql.Append(i == 0 ? "\n" : ",\n")
                .Append(CultureInfo.InvariantCulture, $"(@k{n}, @t{n}, @s{n}, @u{n}, @m{n}, @c{n}, @d{n}, @r{n})");
            var e = events[i];
            parameters.Add("k" + n, e.Key);
            parameters.Add("t" + n, e.Type);
            parameters.Add("s" + n, e.Source);
            parameters.Add("u" + n, e.Subject, DbType.String);
            parameters.Add("m" + n, e.Time);
            parameters.Add("c" + n, e.CorrelationId, DbType.String);
            parameters.Add("d" + n, e.Data, DbType.String);
            parameters.Add("r" + n, e.DataRef, DbType.String);
        }

        return (sql.Append(InsertSuffix).ToString(), parameters);
    }

    private sealed class InsertedKey
    {
        public long Id { get; set; }

        public string IdempotencyKey { get; set; } = "";
    }
}
