using System.Data.Common;
using Dapper;
using Microsoft.Extensions.Logging;

namespace Formanova.Modules.Shared.Database;

/// <summary>
/// Applies every module's pending migrations in one pass. Each script runs in its own transaction together with
/// its row in <c>schema_versions</c>, so a crash leaves either the whole script or none of it. On PostgreSQL a
/// session advisory lock serialises instances that start at the same moment; SQLite's write lock does the same.
/// </summary>
internal sealed class Migrator(IDatabase database, IEnumerable<MigrationSet> sets, TimeProvider clock, ILogger<Migrator> logger)
{
    // Any constant works; it only has to be the same for every Formanova instance on one database.
    private const long AdvisoryLockKey = 0x466F726D616E6F;

    private const string CreateVersionTable = """
        CREATE TABLE IF NOT EXISTS schema_versions (
            module     TEXT NOT NULL,
            version    INTEGER NOT NULL,
            name       TEXT NOT NULL,
            applied_at {{timestamp}} NOT NULL,
            PRIMARY KEY (module, version)
        )
        """;

    private const string SelectApplied = "SELECT module AS Module, version AS Version FROM schema_versions";

    private const string InsertVersion = """
        INSERT INTO schema_versions (module, version, name, applied_at) VALUES (@Module, @Version, @Name, @AppliedAt)
        """;

    public async Task<int> MigrateAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var dialect = database.Dialect;

        if (dialect.Provider == DatabaseProvider.Postgres)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "SELECT pg_advisory_lock(@Key)",
                new { Key = AdvisoryLockKey },
                cancellationToken: cancellationToken));
        }

        try
        {
            await connection.ExecuteAsync(new CommandDefinition(dialect.Expand(CreateVersionTable), cancellationToken: cancellationToken));
            var applied = (await connection.QueryAsync<(string Module, long Version)>(
                new CommandDefinition(SelectApplied, cancellationToken: cancellationToken)))
                .Select(r => (r.Module, (int)r.Version))
                .ToHashSet();

            var count = 0;
            foreach (var set in sets.OrderBy(s => s.Module, StringComparer.Ordinal))
            {
                foreach (var migration in set.Migrations.Where(m => !applied.Contains((set.Module, m.Version))))
                {
                    await ApplyAsync(connection, dialect, set.Module, migration, cancellationToken);
                    count++;
                }
            }

            return count;
        }
        finally
        {
            if (dialect.Provider == DatabaseProvider.Postgres)
            {
                await connection.ExecuteAsync(new CommandDefinition(
                    "SELECT pg_advisory_unlock(@Key)",
                    new { Key = AdvisoryLockKey },
                    cancellationToken: CancellationToken.None));
            }
        }
    }

    private async Task ApplyAsync(
        DbConnection connection,
        SqlDialect dialect,
        string module,
        Migration migration,
        CancellationToken cancellationToken)
    {
        var script = migration.ScriptFor(dialect)
            ?? throw new InvalidOperationException(
                $"Migration {module}/{migration.Version:D4}_{migration.Name} has no script for {dialect.Provider}.");

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            dialect.Expand(script),
            transaction: transaction,
            commandTimeout: 600,
            cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(InsertVersion, new
        {
            Module = module,
            migration.Version,
            migration.Name,
            AppliedAt = clock.GetUtcNow(),
        }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        logger.LogInformation("Applied migration {Module}/{Version:D4}_{Name}", module, migration.Version, migration.Name);
    }
}
