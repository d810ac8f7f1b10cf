using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Formanova.Modules.Shared.Database;

internal sealed class SqliteDatabase : IDatabase
{
    private readonly string _connectionString;
    private readonly string _path;

    public SqliteDatabase(DatabaseOptions options, string dataDirectory)
    {
        DapperTypeHandlers.Register();
        var path = string.IsNullOrWhiteSpace(options.SqlitePath) ? "formanova.db" : options.SqlitePath;
        _path = Path.GetFullPath(Path.Combine(dataDirectory, path));
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        CommandTimeoutSeconds = options.CommandTimeoutSeconds;

        // Microsoft.Data.Sqlite retries SQLITE_BUSY until the command timeout, which is what makes
        // concurrent writers wait for the single WAL writer instead of failing.
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            ForeignKeys = true,
            DefaultTimeout = options.CommandTimeoutSeconds,
        }.ToString();
    }

    public SqlDialect Dialect => SqlDialect.Sqlite;

    public int CommandTimeoutSeconds { get; }

    public string FilePath => _path;

    public string Describe() => $"sqlite://{_path}";

    public async ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);

            // journal_mode=WAL persists in the file; synchronous is per connection, and NORMAL is durable
            // across process crashes in WAL mode (only an OS crash can lose the last transactions).
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}
