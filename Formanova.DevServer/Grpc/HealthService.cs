using Formanova.DevServer.Engine;
using Grpc.AspNetCore.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Formanova.DevServer.Grpc;

/// <summary>
/// <c>grpc.health.v1.Health</c>, as a Temporal frontend serves it: SERVING for the whole server ("") and for the
/// WorkflowService and OperatorService by name (the SDKs check the WorkflowService), NOT_SERVING once the server is
/// shutting down, NOT_FOUND for any other service name.
/// </summary>
internal sealed class HealthService(WorkflowEngine engine) : IHealthCheck
{
    public static void Add(IServiceCollection services)
    {
        services.AddGrpcHealthChecks().AddCheck<HealthService>("engine");
        services.Configure<GrpcHealthChecksOptions>(options =>
        {
            options.Services.Clear();
            foreach (var name in new[] { "", WorkflowServiceEndpoint.Service.FullName, OperatorServiceEndpoint.Service.FullName })
            {
                options.Services.Map(name, _ => true);
            }
        });
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(engine.ShutdownToken.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("The server is shutting down.")
            : HealthCheckResult.Healthy());
}
