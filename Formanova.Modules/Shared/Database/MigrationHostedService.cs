using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Formanova.Modules.Shared.Database;

/// <summary>
/// Runs the migrations before anything else starts: hosted services start in registration order and Kestrel
/// only begins listening after all of them, so no request ever sees an old schema.
/// </summary>
internal sealed class MigrationHostedService(Migrator migrator, IDatabase database, ILogger<MigrationHostedService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var applied = await migrator.MigrateAsync(cancellationToken);
        logger.LogInformation("Database {Database} is up to date ({Applied} migrations applied)", database.Describe(), applied);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
