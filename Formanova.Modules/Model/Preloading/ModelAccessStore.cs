using System.Text.Json;
using Dapper;
using Formanova.Modules.Shared.Database;

namespace Formanova.Modules.Model.Preloading;

/// <summary>One version's stored traffic (table <c>model_access</c>, migration 0006).</summary>
internal sealed class ModelAccessRow
{
    public string Name { get; set; } = "";

    public string Version { get; set; } = "";

    public long Requests { get; set; }

    public DateTimeOffset LastAccessAt { get; set; }

    public string? HotKeysJson { get; set; }

    public IReadOnlyList<string> HotKeys =>
        HotKeysJson is null ? [] : JsonSerializer.Deserialize<List<string>>(HotKeysJson) ?? [];
}

/// <summary>Reads and writes <c>model_access</c>: each instance adds its request deltas, the newest access wins.</summary>
internal sealed class ModelAccessStore(IDatabase database)
{
    private const string Upsert = """
        INSERT INTO model_access (name, version, requests, last_access_at, hot_keys_json, updated_at)
        VALUES (@Name, @Version, @Requests, @LastAccessAt, @HotKeysJson, @Now)
        ON CONFLICT (name, version) DO UPDATE SET
            requests = model_access.requests + excluded.requests,
            last_access_at = CASE WHEN excluded.last_access_at > model_access.last_access_at
                THEN excluded.last_access_at ELSE model_access.last_access_at END,
            hot_keys_json = COALESCE(excluded.hot_keys_json, model_access.hot_keys_json),
            updated_at = excluded.updated_at
        """;

    private const string SelectRecent = """
        SELECT name, version, requests, last_access_at AS LastAccessAt, hot_keys_json AS HotKeysJson
        FROM model_access WHERE last_access_at >= @Since
        ORDER BY requests DESC, last_access_at DESC
        """;

    public async Task WriteAsync(IReadOnlyList<ModelAccessRow> rows, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var row in rows)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                Upsert,
                new { row.Name, row.Version, row.Requests, row.LastAccessAt, row.HotKeysJson, Now = now },
                transaction,
                cancellationToken: cancellationToken));
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Versions accessed since <paramref name="since"/>, most requested first.</summary>
    public async Task<IReadOnlyList<ModelAccessRow>> ListRecentAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<ModelAccessRow>(
            new CommandDefinition(SelectRecent, new { Since = since }, cancellationToken: cancellationToken));
        return [.. rows];
    }
}
