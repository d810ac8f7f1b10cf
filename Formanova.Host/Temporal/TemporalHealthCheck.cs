using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Temporalio.Api.WorkflowService.V1;
using Temporalio.Client;

namespace Formanova.Host.Temporal;

/// <summary>Ready when the Temporal frontend answers a cheap RPC within the connect timeout.</summary>
internal sealed class TemporalHealthCheck(ITemporalClient client, IOptions<TemporalOptions> options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var timeout = TimeSpan.FromSeconds(options.Value.ConnectTimeoutSeconds);
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(timeout);
            await client.Connection.ConnectAsync().WaitAsync(cts.Token);
            await client.WorkflowService
                .GetSystemInfoAsync(new GetSystemInfoRequest(), new RpcOptions { Timeout = timeout, CancellationToken = cts.Token });
            return HealthCheckResult.Healthy($"Temporal at {client.Connection.Options.TargetHost}, namespace {client.Options.Namespace}");
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"Temporal at {client.Connection.Options.TargetHost} is unreachable", ex);
        }
    }
}
