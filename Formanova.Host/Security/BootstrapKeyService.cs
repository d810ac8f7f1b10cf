using Formanova.Modules.Access;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Security;

/// <summary>
/// On the first start with an empty key store, installs Auth:BootstrapKey or generates an admin key and prints it
/// once to standard output (the Jupyter-token pattern). The secret goes to the console only, never to the log
/// pipeline, which may ship logs elsewhere.
/// </summary>
internal sealed class BootstrapKeyService(IAccessModule access, IOptions<AuthOptions> options, ILogger<BootstrapKeyService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.Enabled)
        {
            logger.LogWarning("AUTHENTICATION IS DISABLED (Auth:Enabled=false): every request is treated as an admin. Never run like this where anyone else can reach the port.");
        }

        var generated = await access.EnsureBootstrapKeyAsync(options.Value.BootstrapKey, cancellationToken);
        if (generated is not null)
        {
            await Console.Out.WriteLineAsync($"""

                ================================================================================
                Formanova generated an admin API key. It is shown this once; store it now:

                    {generated}

                Use it as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'.
                ================================================================================

                """);
            logger.LogWarning("No API keys existed, so an admin key named 'bootstrap' was generated and printed to standard output");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
