using System.Data.Common;

namespace Formanova.Modules.Shared.Database;

/// <summary>Opens one connection per unit of work on the configured provider.</summary>
internal interface IDatabase
{
    SqlDialect Dialect { get; }

    int CommandTimeoutSeconds { get; }

    /// <summary>A human-readable target with no secrets in it (for logs and health output).</summary>
    string Describe();

    ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default);
}
