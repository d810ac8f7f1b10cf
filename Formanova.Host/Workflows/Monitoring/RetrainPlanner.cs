using Formanova.Host.Workflows.Training;
using Formanova.Modules.Model;
using Temporalio.Client;
using Temporalio.Converters;
using Temporalio.Exceptions;

namespace Formanova.Host.Workflows.Monitoring;

/// <summary>
/// The training run a monitoring policy starts: the breached version's own run (read back from its history, so the
/// dataset, transforms, trainer, seed and quality gate are the same), on the dataset as it is now, registering a new
/// version of the same major (<see cref="TrainingVersions.Scheduled"/>) without activating it.
/// </summary>
internal sealed class RetrainPlanner(IModelModule models, WorkflowGateway gateway)
{
    public async Task<(TrainingRunInput? Run, string? Note)> PlanAsync(
        string model,
        string version,
        string? trainer,
        CancellationToken cancellationToken)
    {
        var info = await models.GetVersionAsync(model, version, cancellationToken);
        if (info.Lineage.RunId is not { Length: > 0 } runId)
        {
            return (null, $"{model} {version} was not trained by a training run (uploaded or the demo model): there is nothing to repeat.");
        }

        TrainingRunInput? original;
        try
        {
            var history = await gateway.Client.GetWorkflowHandle(runId)
                .FetchHistoryAsync(new WorkflowHistoryEventFetchOptions { Rpc = gateway.Rpc(cancellationToken) });
            var started = history.Events.FirstOrDefault(e => e.WorkflowExecutionStartedEventAttributes is not null)
                ?.WorkflowExecutionStartedEventAttributes;
            original = started?.WorkflowType.Name == nameof(ModelTrainingWorkflow) && started.Input?.Payloads_.Count > 0
                ? await gateway.Client.Options.DataConverter.ToValueAsync<TrainingRunInput>(started.Input.Payloads_[0])
                : null;
        }
        catch (RpcException ex) when (ex.Code == RpcException.StatusCode.NotFound)
        {
            original = null;
        }

        if (original is null)
        {
            return (null, $"The training run {runId} of {model} {version} is no longer in Temporal's history: its settings are unknown.");
        }

        return (original with
        {
            Version = version,
            ScheduledMajor = TrainingVersions.Major(version),
            Trainer = trainer ?? original.Trainer,
            Activate = false,
            RequireApproval = false,
            Policy = gateway.Policy(),
        }, null);
    }
}
