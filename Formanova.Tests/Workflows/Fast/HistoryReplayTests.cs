using System.Text.RegularExpressions;
using Formanova.Host.Workflows.Batch;
using Formanova.Host.Workflows.Experiments;
using Formanova.Host.Workflows.Monitoring;
using Formanova.Host.Workflows.Processing;
using Formanova.Host.Workflows.Promotion;
using Formanova.Host.Workflows.Training;
using Formanova.Host.Workflows.Webhooks;
using Temporalio.Common;
using Temporalio.Worker;

namespace Formanova.Tests.Workflows.Fast;

/// <summary>
/// Replays one recorded history per workflow type against today's workflow code: a change to the commands a
/// workflow emits (an activity added, removed or reordered, a timer, a continue-as-new) without
/// <c>Workflow.Patched</c> makes the replay fail here instead of failing every run in flight after a deployment.
/// The histories are in Formanova.Tests/Workflows/Histories; docs/workflows.md ("Replay and patching") says when and
/// how to record them again.
/// </summary>
public sealed class HistoryReplayTests
{
    public static readonly string[] WorkflowTypes =
    [
        "ProcessingWorkflow", "ModelTrainingWorkflow", "ModelPromotionSaga", "BatchInferenceWorkflow", "WebhookDeliveryWorkflow",
        "ModelTrainingWorkflow.auto", "ModelMonitoringWorkflow", "ModelMonitoringWorkflow.experiment", "ExperimentWorkflow",
    ];

    [TestCaseSource(nameof(WorkflowTypes))]
    public async Task ReplayWorkflowAsync_WhenTheRecordedHistoryIsReplayed_EmitsTheSameCommands(string workflowType)
    {
        var path = Path.Combine(RecordedHistories.Directory(), $"{workflowType}.json");
        Assert.That(File.Exists(path), Is.True, $"{path} is missing: record it with FORMANOVA_RECORD_HISTORIES=1");
        var json = await File.ReadAllTextAsync(path);

        // The recorded run's own id: a workflow may derive ids from it (the experiment's child promotion does).
        var id = Regex.Match(json, "\"workflowId\": \"([^\"]+)\"") is { Success: true } m ? m.Groups[1].Value : $"replay-{workflowType}";
        var history = WorkflowHistory.FromJson(id, json);

        var result = await Replayer().ReplayWorkflowAsync(history, throwOnReplayFailure: false);

        Assert.That(result.ReplayFailure, Is.Null, result.ReplayFailure?.ToString());
    }

    private static WorkflowReplayer Replayer() => new(new WorkflowReplayerOptions()
        .AddWorkflow<ProcessingWorkflow>()
        .AddWorkflow<ModelTrainingWorkflow>()
        .AddWorkflow<ModelPromotionSaga>()
        .AddWorkflow<BatchInferenceWorkflow>()
        .AddWorkflow<WebhookDeliveryWorkflow>()
        .AddWorkflow<ModelMonitoringWorkflow>()
        .AddWorkflow<ExperimentWorkflow>());
}
