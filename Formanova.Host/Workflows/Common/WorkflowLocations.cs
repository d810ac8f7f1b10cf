namespace Formanova.Host.Workflows.Common;

/// <summary>
/// Where the API serves each kind of workflow run, for the job listing and for events that point at a run's full
/// result (the CloudEvents <c>dataref</c>). Training runs, batch jobs and promotions have their own paths.
/// </summary>
internal static class WorkflowLocations
{
    /// <summary>The listing's name for a run's kind.</summary>
    public static string KindOf(string workflowType, string workflowId) => workflowType switch
    {
        "ProcessingWorkflow" => workflowId.StartsWith("prediction-", StringComparison.Ordinal) ? "prediction" : "job",
        "ModelTrainingWorkflow" => "training",
        "BatchInferenceWorkflow" => "batch",
        "ModelPromotionSaga" => "promotion",
        "ExperimentWorkflow" => "experiment",
        var other => other,
    };

    /// <summary>The API path that reads the run, e.g. <c>/api/v1/training-runs/{id}</c>.</summary>
    public static string PathOf(string workflowType, string workflowId)
    {
        if (workflowType == "ExperimentWorkflow" && workflowId.StartsWith("experiment-", StringComparison.Ordinal))
        {
            // An experiment is read by its name, which its workflow id carries.
            return $"/api/v1/experiments/{workflowId["experiment-".Length..]}";
        }

        var area = KindOf(workflowType, workflowId) switch
        {
            "training" => "training-runs",
            "batch" => "batch-jobs",
            "promotion" => "promotions",
            _ => "jobs",
        };
        return $"/api/v1/{area}/{workflowId}";
    }
}
