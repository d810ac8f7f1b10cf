using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Shared.Database;

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

/// <summary>The <c>Database</c> configuration section.</summary>
public sealed class DatabaseOptions
{
    public const string SectionName = "Database";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>PostgreSQL connection string; required when <see cref="Provider"/> is Postgres.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>SQLite file; relative paths resolve against the data directory. Empty means <c>{DataDirectory}/formanova.db</c>.</summary>
    public string? SqlitePath { get; set; }

    [Range(1, 3600)]
    public int CommandTimeoutSeconds { get; set; } = 30;

    [Range(1, 1000)]
    public int MaxPoolSize { get; set; } = 20;
}

[OptionsValidator]
internal sealed partial class DatabaseOptionsValidator : IValidateOptions<DatabaseOptions>;
