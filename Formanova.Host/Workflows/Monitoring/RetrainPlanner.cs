using System.Globalization;
using Formanova.Host.Workflows.Training;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Temporalio.Client;
using Temporalio.Converters;
using Temporalio.Exceptions;

namespace Formanova.Host.Workflows.Monitoring;

/// <summary>
/// The training run a monitoring policy starts: the breached version's own run (read back from its history, so the
/// dataset, transforms, trainer, seed and quality gate are the same), on the dataset as it is now, registering a new
/// version of the same major (<see cref="TrainingVersions.Scheduled"/>) without activating it. When that history is
/// gone (Temporal's retention), the version's stored settings stand in for it (<see cref="FromStoredAsync"/>).
/// </summary>
internal sealed class RetrainPlanner(IModelModule models, IDataModule data, WorkflowGateway gateway)
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
            return await FromStoredAsync(info, runId, trainer, cancellationToken);
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

    /// <summary>
    /// The run rebuilt from what the registry kept with the version: its dataset (lineage), task, the trainer, seed and
    /// test fraction of its training report, and the dataset's other columns left out as the version left them out.
    /// The transforms and the quality gate were only in the run's input: a version trained with transforms is not
    /// retrained (it would take different inputs), and the new version has no quality gate; the note says so.
    /// </summary>
    private async Task<(TrainingRunInput? Run, string? Note)> FromStoredAsync(
        ModelVersionInfo info,
        string runId,
        string? trainer,
        CancellationToken cancellationToken)
    {
        var gone = $"The training run {runId} of {info.Name} {info.Version} is no longer in Temporal's history";
        if (!long.TryParse(info.Lineage.DatasetId, CultureInfo.InvariantCulture, out var datasetId))
        {
            return (null, $"{gone}, and the version names no dataset: its settings are unknown.");
        }

        if (info.Contract?.Steps.Count > 0)
        {
            return (null, $"{gone}, and its transforms were only there: retraining without them would change its inputs.");
        }

        var used = (info.Contract?.Columns.Where(c => c.Role != InputRole.Ignored).Select(c => c.Name) ?? info.Columns.Select(c => c.Name))
            .ToHashSet(StringComparer.Ordinal);
        var dataset = await data.GetDatasetAsync(datasetId, cancellationToken);
        var excluded = dataset.Columns.Select(c => c.Name).Where(c => !used.Contains(c)).ToList();
        var report = info.Report;
        var chosen = trainer ?? report?.Trainer ?? info.Trainer;
        var options = gateway.Options.Training;
        var run = new TrainingRunInput(
            info.Name,
            info.Version,
            info.Task,
            datasetId,
            null,
            chosen,
            report?.Seed ?? 42,
            report?.TestFraction ?? 0.2,
            [],
            [],
            Activate: false,
            RequireApproval: false,
            options.ApprovalTimeoutSeconds,
            options.TrainMaximumAttempts,
            gateway.Policy(),
            excluded.Count > 0 ? excluded : null,
            TimeBudgetSeconds: AutoTrainingSteps.IsAuto(chosen) ? options.AutoTimeBudgetSeconds : null,
            AutoParallelism: options.AutoParallelism,
            ScheduledMajor: TrainingVersions.Major(info.Version));
        return (run, $"{gone}: retrained with the version's stored settings (dataset {datasetId}, trainer {chosen}, "
            + $"seed {run.Seed}, test fraction {run.TestFraction}); its quality gate was not stored, so none applied.");
    }
}
