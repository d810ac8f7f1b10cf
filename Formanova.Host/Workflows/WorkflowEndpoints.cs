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

        // Every one of them needs Temporal; the rest of the API is served without it.
        var workflows = api.MapGroup("").AddEndpointFilter<TemporalRequiredFilter>();
        workflows.MapProcessingEndpoints();
        workflows.MapTrainingEndpoints();
        workflows.MapTrainingScheduleEndpoints();
        workflows.MapPromotionEndpoints();
        workflows.MapBatchEndpoints();
        workflows.MapMonitoringEndpoints();
        workflows.MapExperimentEndpoints();
        return api;
    }
}
