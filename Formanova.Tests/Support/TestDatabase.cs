using Formanova.Modules.Shared.Database;
using Npgsql;

namespace Formanova.Tests.Support;

/// <summary>
/// A fresh, empty database on either provider: a SQLite file in a temporary folder, or a new PostgreSQL
/// database created on the server from <see cref="TestServices.Postgres"/> and dropped afterwards.
/// </summary>
internal sealed class TestDatabase : IAsyncDisposable
{
    private readonly string? _postgresAdmin;
    private readonly string? _postgresName;

    private TestDatabase(DatabaseOptions options, string dataDirectory, IDatabase database, string? postgresAdmin, string? postgresName)
    {
        Options = options;
        DataDirectory = dataDirectory;
        Database = database;
        _postgresAdmin = postgresAdmin;
        _postgresName = postgresName;
    }

    /// <summary>
    /// The provider variants of a fixture. Without PostgreSQL configured its variant is ignored as a whole, before any
    /// set-up runs, so a fixture's tear-down never meets the half-built state of a set-up that stopped early.
    /// </summary>
    public static IEnumerable<TestFixtureData> Providers =>
    [
        new TestFixtureData(DatabaseProvider.Sqlite),
        PostgresSkip is { } reason
            ? new TestFixtureData(DatabaseProvider.Postgres).Ignore(reason)
            : new TestFixtureData(DatabaseProvider.Postgres),
    ];

    /// <summary>The same variants for a single test (<c>TestCaseSource</c>).</summary>
    public static IEnumerable<TestCaseData> ProviderCases =>
    [
        new TestCaseData(DatabaseProvider.Sqlite),
        PostgresSkip is { } reason
            ? new TestCaseData(DatabaseProvider.Postgres).Ignore(reason)
            : new TestCaseData(DatabaseProvider.Postgres),
    ];

    private static string? PostgresSkip => TestServices.SkipReason(TestServices.PostgresVariable, "PostgreSQL");

    public DatabaseOptions Options { get; }

    public string DataDirectory { get; }

    public IDatabase Database { get; }

    /// <summary>Configuration keys that point a Formanova host at this database.</summary>
    public IEnumerable<KeyValuePair<string, string?>> Settings =>
    [
        new("Formanova:DataDirectory", DataDirectory),
        new("Database:Provider", Options.Provider.ToString()),
        new("Database:ConnectionString", Options.ConnectionString),
        new("Database:SqlitePath", Options.SqlitePath),
    ];

    public static async Task<TestDatabase> CreateAsync(DatabaseProvider provider)
    {
        var dataDirectory = Directory.CreateTempSubdirectory("formanova-test-").FullName;
        if (provider == DatabaseProvider.Sqlite)
        {
            var options = new DatabaseOptions { Provider = provider, SqlitePath = "formanova.db" };
            return new TestDatabase(options, dataDirectory, new SqliteDatabase(options, dataDirectory), null, null);
        }

        var admin = TestServices.Postgres();
        var name = $"fn_test_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        var pgOptions = new DatabaseOptions
        {
            Provider = provider,
            ConnectionString = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString,
        };
        return new TestDatabase(pgOptions, dataDirectory, new PostgresDatabase(pgOptions), admin, name);
    }

    public async ValueTask DisposeAsync()
    {
        if (Database is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }

        if (_postgresAdmin is not null)
        {
            await using var connection = new NpgsqlConnection(_postgresAdmin);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_postgresName}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a pool on another thread; the OS temp cleaner gets it later.
        }
    }
}
