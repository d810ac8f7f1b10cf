using Formanova.Host.Workflows;
using Formanova.Host.Workflows.Batch;
using Formanova.Host.Workflows.Processing;
using Formanova.Host.Workflows.Promotion;
using Formanova.Host.Workflows.Training;
using Temporalio.Api.Enums.V1;

namespace Formanova.Host.Dashboard.Workflows;

/// <summary>The workflow types the dashboard lists (the API's job kinds; webhook deliveries are internal), and status names.</summary>
internal static class WorkflowKinds
{
    public static readonly IReadOnlyList<(string Type, string Label)> Listed =
    [
        (nameof(ProcessingWorkflow), "Jobs and predictions"),
        (nameof(ModelTrainingWorkflow), "Training runs"),
        (nameof(BatchInferenceWorkflow), "Batch jobs"),
        (nameof(ModelPromotionSaga), "Promotions"),
    ];

    /// <summary>The statuses in the order the pages show them.</summary>
    public static readonly IReadOnlyList<string> Statuses = ["running", "completed", "failed", "cancelled", "terminated", "timedOut"];

    /// <summary>A visibility query clause matching every listed type.</summary>
    public static readonly string ListedTypes = $"WorkflowType IN ({string.Join(", ", Listed.Select(k => $"'{k.Type}'"))})";

    /// <summary>The API's name of a status; a run that continued as new is closed, and is named so.</summary>
    public static string StatusName(WorkflowExecutionStatus status) =>
        status == WorkflowExecutionStatus.ContinuedAsNew ? "continuedAsNew" : WorkflowGateway.StatusName(status);
}
