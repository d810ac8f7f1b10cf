using System.Data.Common;
using System.Text.Json;
using Dapper;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Model.Experiments;

/// <summary>An experiment's settings as stored in <c>settings_json</c>: everything fixed at creation.</summary>
internal sealed record ExperimentSettings(
    ExperimentMode Mode,
    ExperimentAssignment Assignment,
    ExperimentMetric PrimaryMetric,
    ExperimentGuards Guards,
    long MinSamplesPerArm,
    double Alpha,
    TimeSpan EvaluationInterval,
    TimeSpan? MaxDuration,
    CanaryPlan? Canary,
    bool AutoPromote);

/// <summary>One row of <c>model_experiments</c> (migration 0007).</summary>
internal sealed class ExperimentRow
{
    public string Name { get; set; } = "";

    public string Model { get; set; } = "";

    public string Status { get; set; } = "";

    public string SettingsJson { get; set; } = "";

    public string ArmsJson { get; set; } = "";

    public string? Winner { get; set; }

    public string? Reason { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    public ExperimentStatus ExperimentStatus => ExperimentStore.ParseStatus(Status);

    public IReadOnlyList<ExperimentArm> Arms =>
        JsonSerializer.Deserialize<List<ExperimentArm>>(ArmsJson, RegistryJson.Options) ?? [];

    public ExperimentInfo ToInfo()
    {
        var s = JsonSerializer.Deserialize<ExperimentSettings>(SettingsJson, RegistryJson.Options)!;
        return new ExperimentInfo(
            Name,
            Model,
            s.Mode,
            s.Assignment,
            s.PrimaryMetric,
            s.Guards,
            s.MinSamplesPerArm,
            s.Alpha,
            s.EvaluationInterval,
            s.MaxDuration,
            s.Canary,
            s.AutoPromote,
            Arms,
            ExperimentStatus,
            Winner,
            Reason,
            CreatedAt,
            UpdatedAt,
            EndedAt);
    }
}

/// <summary>Reads and writes <c>model_experiments</c>. Each change is one statement, so it survives a restart whole.</summary>
internal sealed class ExperimentStore(IDatabase database)
{
    private const string Columns = """
        name, model, status, settings_json AS SettingsJson, arms_json AS ArmsJson, winner, reason,
        created_at AS CreatedAt, updated_at AS UpdatedAt, ended_at AS EndedAt
        """;

    private const string InsertSql = """
        INSERT INTO model_experiments (name, model, status, settings_json, arms_json, created_at, updated_at)
        VALUES (@Name, @Model, @Status, @SettingsJson, @ArmsJson, @CreatedAt, @UpdatedAt)
        """;

    // Only a live experiment changes: the status guard makes a change racing an end lose (0 rows) instead of reviving it.
    private const string UpdateSql = """
        UPDATE model_experiments
        SET status = @Status, arms_json = @ArmsJson, winner = @Winner, reason = @Reason, updated_at = @UpdatedAt,
            ended_at = @EndedAt
        WHERE name = @Name AND status IN ('running', 'paused')
        """;

    public static string StatusText(ExperimentStatus status) => status switch
    {
        ExperimentStatus.Running => "running",
        ExperimentStatus.Paused => "paused",
        ExperimentStatus.Decided => "decided",
        ExperimentStatus.RolledBack => "rolledBack",
        _ => "stopped",
    };

    public static ExperimentStatus ParseStatus(string text) => text switch
    {
        "running" => ExperimentStatus.Running,
        "paused" => ExperimentStatus.Paused,
        "decided" => ExperimentStatus.Decided,
        "rolledBack" => ExperimentStatus.RolledBack,
        _ => ExperimentStatus.Stopped,
    };

    public static string Json<T>(T value) => JsonSerializer.Serialize(value, RegistryJson.Options);

    public async Task<ExperimentRow?> FindAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<ExperimentRow>(new CommandDefinition(
            $"SELECT {Columns} FROM model_experiments WHERE name = @Name", new { Name = name }, cancellationToken: cancellationToken));
    }

    public async Task<ExperimentRow?> FindLiveAsync(string model, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QueryFirstOrDefaultAsync<ExperimentRow>(new CommandDefinition(
            $"SELECT {Columns} FROM model_experiments WHERE model = @Model AND status IN ('running', 'paused')",
            new { Model = model },
            cancellationToken: cancellationToken));
    }

    /// <summary>Experiments newest first, of <paramref name="model"/> when given.</summary>
    public async Task<IReadOnlyList<ExperimentRow>> ListAsync(string? model, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<ExperimentRow>(new CommandDefinition(
            $"SELECT {Columns} FROM model_experiments WHERE @Model IS NULL OR model = @Model ORDER BY created_at DESC, name",
            new { Model = model },
            cancellationToken: cancellationToken));
        return [.. rows];
    }

    /// <summary>The running and paused experiments: the routing snapshot and the preload read this.</summary>
    public async Task<IReadOnlyList<ExperimentRow>> ListLiveAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<ExperimentRow>(new CommandDefinition(
            $"SELECT {Columns} FROM model_experiments WHERE status IN ('running', 'paused') ORDER BY created_at",
            cancellationToken: cancellationToken));
        return [.. rows];
    }

    /// <summary>Inserts a new running experiment; Conflict when the name exists or the model has a live one.</summary>
    public async Task InsertAsync(ExperimentRow row, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(InsertSql, row, cancellationToken: cancellationToken));
        }
        catch (DbException ex) when (IsUniqueViolation(ex))
        {
            throw new ModuleException(
                ErrorKind.Conflict,
                $"Experiment '{row.Name}' exists, or model {row.Model} already has a running or paused experiment.",
                inner: ex);
        }
    }

    /// <summary>Writes a live experiment's status, arms and outcome; false when it had ended meanwhile.</summary>
    public async Task<bool> UpdateAsync(ExperimentRow row, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(UpdateSql, row, cancellationToken: cancellationToken)) == 1;
    }

    private static bool IsUniqueViolation(DbException exception) =>
        exception is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 19 } or Npgsql.PostgresException { SqlState: "23505" };
}
