using System.Text.Json;
using Dapper;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Database;

namespace Formanova.Modules.Model.Monitoring;

/// <summary>The monitoring tables of migration 0008, as JSON documents keyed by model (and version and time).</summary>
internal sealed class MonitoringStore(IDatabase database, TimeProvider time) : IModelMonitoringModule
{
    private const string UpsertPolicy = """
        INSERT INTO model_monitoring_policies (name, policy_json, updated_at) VALUES (@Name, @Json, @Now)
        ON CONFLICT (name) DO UPDATE SET policy_json = excluded.policy_json, updated_at = excluded.updated_at
        """;

    public async Task<MonitoringPolicy?> GetPolicyAsync(string model, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var json = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "SELECT policy_json FROM model_monitoring_policies WHERE name = @Name",
            new { Name = ModelNames.Name(model) },
            cancellationToken: cancellationToken));
        return json is null ? null : Read<MonitoringPolicy>(json);
    }

    public async Task<MonitoringPolicy> PutPolicyAsync(MonitoringPolicy policy, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var stored = policy with { Model = ModelNames.Name(policy.Model), UpdatedAt = time.GetUtcNow() };
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            UpsertPolicy,
            new { Name = stored.Model, Json = Write(stored), Now = stored.UpdatedAt },
            cancellationToken: cancellationToken));
        return stored;
    }

    public async Task<bool> DeletePolicyAsync(string model, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM model_monitoring_policies WHERE name = @Name",
            new { Name = ModelNames.Name(model) },
            cancellationToken: cancellationToken)) > 0;
    }

    public async Task<IReadOnlyList<MonitoringPolicy>> ListPoliciesAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT policy_json FROM model_monitoring_policies ORDER BY name", cancellationToken: cancellationToken));
        return [.. rows.Select(Read<MonitoringPolicy>)];
    }

    public async Task MarkRetrainedAsync(string model, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        if (await GetPolicyAsync(model, cancellationToken) is { } policy)
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(
                UpsertPolicy,
                new { Name = policy.Model, Json = Write(policy with { LastRetrainAt = at }), Now = policy.UpdatedAt },
                cancellationToken: cancellationToken));
        }
    }

    public async Task AppendWindowsAsync(IReadOnlyList<LiveWindow> windows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(windows);
        if (windows.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var window in windows)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO model_monitoring_windows (name, version, window_start, window_end, rows_count, counts_json)
                VALUES (@Model, @Version, @Start, @End, @Rows, @Json)
                """,
                new { window.Model, window.Version, window.Start, window.End, window.Rows, Json = Write(window) },
                transaction,
                cancellationToken: cancellationToken));
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<LiveWindow>> ReadWindowsAsync(
        string model,
        string version,
        DateTimeOffset since,
        DateTimeOffset until,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<string>(new CommandDefinition(
            """
            SELECT counts_json FROM model_monitoring_windows
            WHERE name = @Model AND version = @Version AND window_start >= @Since AND window_start < @Until
            ORDER BY window_start
            """,
            new { Model = ModelNames.Name(model), Version = version, Since = since, Until = until },
            cancellationToken: cancellationToken));
        return [.. rows.Select(Read<LiveWindow>)];
    }

    public async Task<long> SweepAsync(DateTimeOffset before, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var windows = await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM model_monitoring_windows WHERE window_start < @Before",
            new { Before = before },
            cancellationToken: cancellationToken));
        var checks = await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM model_monitoring_checks WHERE checked_at < @Before",
            new { Before = before },
            cancellationToken: cancellationToken));
        return windows + checks;
    }

    public async Task AppendCheckAsync(MonitoringCheck check, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(check);
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO model_monitoring_checks (name, version, checked_at, status, check_json)
            VALUES (@Model, @Version, @CheckedAt, @Status, @Json)
            """,
            new { check.Model, check.Version, check.CheckedAt, check.Status, Json = Write(check) },
            cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<MonitoringCheck>> ListChecksAsync(
        string model,
        DateTimeOffset since,
        DateTimeOffset until,
        int limit,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<string>(new CommandDefinition(
            """
            SELECT check_json FROM model_monitoring_checks
            WHERE name = @Model AND checked_at >= @Since AND checked_at < @Until
            ORDER BY checked_at DESC, id DESC
            LIMIT @Limit
            """,
            new { Model = ModelNames.Name(model), Since = since, Until = until, Limit = limit },
            cancellationToken: cancellationToken));
        return [.. rows.Select(Read<MonitoringCheck>)];
    }

    private static string Write<T>(T value) => JsonSerializer.Serialize(value, Compact);

    private static T Read<T>(string json) => JsonSerializer.Deserialize<T>(json, Compact)!;

    private static readonly JsonSerializerOptions Compact = new(RegistryJson.Options) { WriteIndented = false };
}
