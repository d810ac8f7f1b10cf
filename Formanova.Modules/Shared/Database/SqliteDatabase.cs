using System.Data.Common;
using System.Runtime.CompilerServices;
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

        // Concurrent writers wait for the single WAL writer inside SQLite (busy_timeout, set on each new connection
        // below) rather than in Microsoft.Data.Sqlite's own retry, which blocks its thread for 150 ms per
        // SQLITE_BUSY: under 32 concurrent synchronous predictions a third of the runs took such a pause.
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
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
            if (!Configured.TryGetValue(connection.Handle!, out _))
            {
                // Per-connection settings, once for each connection the pool opens rather than on every open: the
                // prediction log's writer and key checks open one per batch or request. journal_mode=WAL persists in
                // the file. NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last
                // transactions).
                await using var pragma = connection.CreateCommand();
                pragma.CommandText = "PRAGMA foreign_keys=ON; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    + $"PRAGMA busy_timeout={CommandTimeoutSeconds * 1000};";
                await pragma.ExecuteNonQueryAsync(cancellationToken);
                Configured.AddOrUpdate(connection.Handle!, Marker);
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private static readonly object Marker = new();

    // Keyed by the native connection the pool hands out again; it goes when the pool closes that connection.
    private static readonly ConditionalWeakTable<SQLitePCL.sqlite3, object> Configured = new();
}
