using Formanova.Host.Temporal;
using Formanova.Host.Workflows.Api;

namespace Formanova.Host.Workflows;

/// <summary>The workflow REST API, served by processes with the api role.</summary>
internal static class WorkflowEndpoints
{
    public static IEndpointRouteBuilder MapWorkflowEndpoints(this IEndpointRouteBuilder api, IConfiguration configuration)
    {
        if (!TemporalSetup.HasRole(configuration, "api"))
        {
            return api;
        }

        api.MapProcessingEndpoints();
        api.MapTrainingEndpoints();
        api.MapPromotionEndpoints();
        api.MapBatchEndpoints();
        return api;
    }
}
