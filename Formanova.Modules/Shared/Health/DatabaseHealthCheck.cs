using Dapper;
using Formanova.Modules.Shared.Database;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Formanova.Modules.Shared.Health;

internal sealed class DatabaseHealthCheck(IDatabase database) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["provider"] = database.Dialect.Provider.ToString() };
        try
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT 1", cancellationToken: cancellationToken));
            return HealthCheckResult.Healthy(database.Describe(), data);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The exception message of a driver can carry the connection string; report only its type.
            return HealthCheckResult.Unhealthy($"{database.Describe()} is unreachable ({ex.GetType().Name})", data: data);
        }
    }
}
