using System.Data.Common;
using Npgsql;

namespace Formanova.Modules.Shared.Database;

internal sealed class PostgresDatabase : IDatabase, IAsyncDisposable
{
    public PostgresDatabase(DatabaseOptions options)
    {
        DapperTypeHandlers.Register();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            throw new InvalidOperationException(
                "Database:Provider is Postgres but Database:ConnectionString is empty (set Database__ConnectionString).");
        }

        var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString)
        {
            MaxPoolSize = options.MaxPoolSize,
            CommandTimeout = options.CommandTimeoutSeconds,
        };
        DataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        CommandTimeoutSeconds = options.CommandTimeoutSeconds;
        _description = $"postgres://{builder.Host}:{builder.Port}/{builder.Database}";
    }

    private readonly string _description;

    public NpgsqlDataSource DataSource { get; }

    public SqlDialect Dialect => SqlDialect.Postgres;

    public int CommandTimeoutSeconds { get; }

    public string Describe() => _description;

    public async ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default) =>
        await DataSource.OpenConnectionAsync(cancellationToken);

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}
