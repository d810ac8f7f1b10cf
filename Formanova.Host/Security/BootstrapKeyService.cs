using Formanova.Modules.Access;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Security;

/// <summary>
/// Makes sure an admin key exists at start. On the first start it installs Auth:BootstrapKey, or generates an admin
/// key and prints it once to standard output (the Jupyter-token pattern): the secret goes to the console only,
/// never to the log pipeline, which may ship logs elsewhere. An instance whose admin keys were all revoked or
/// expired is recovered with Auth:BootstrapKey on its next start, with a warning.
/// </summary>
internal sealed class BootstrapKeyService(
    IAccessModule access,
    IOptions<AuthOptions> options,
    ILogger<BootstrapKeyService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.Enabled)
        {
            logger.LogWarning("AUTHENTICATION IS DISABLED (Auth:Enabled=false): every request is treated as an admin. Never run like " +
                "this where anyone else can reach the port.");
        }

        var result = await access.EnsureBootstrapKeyAsync(options.Value.BootstrapKey, cancellationToken);
        switch (result.Outcome)
        {
            case BootstrapOutcome.Generated:
                await Console.Out.WriteLineAsync($"""

                    ================================================================================
                    Formanova generated an admin API key. It is shown this once; store it now:

                        {result.GeneratedSecret}

                    Use it as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'.
                    ================================================================================

                    """);
                logger.LogWarning("No API keys existed, so an admin key named 'bootstrap' was generated and printed to standard output");
                break;
            case BootstrapOutcome.Recovered:
                logger.LogWarning(
                    "No active admin API key existed ({KeyCount} keys, all revoked, expired or without the admin scope), so " +
                    "Auth:BootstrapKey was installed as admin key {KeyId} named 'bootstrap'. Create a personal admin key with it, revoke " +
                    "it, and remove Auth:BootstrapKey from the configuration",
                    result.KeyCount, result.KeyId);
                break;
            case BootstrapOutcome.NoActiveAdmin:
                logger.LogWarning(
                    "No active admin API key exists ({KeyCount} keys, all revoked, expired or without the admin scope): nobody can " +
                    "manage keys. Set Auth:BootstrapKey to 24 or more random characters and restart to install an admin key",
                    result.KeyCount);
                break;
            case BootstrapOutcome.ConfiguredKeyRevoked:
                logger.LogError(
                    "No active admin API key exists, and Auth:BootstrapKey is a key that was revoked, so it is not reinstated. Set " +
                    "Auth:BootstrapKey to a new value of 24 or more random characters and restart");
                break;
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
