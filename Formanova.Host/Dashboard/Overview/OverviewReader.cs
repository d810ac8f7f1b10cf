using Formanova.Host.Dashboard.Workflows;
using Formanova.Host.Temporal;
using Formanova.Host.Workflows;
using Formanova.Host.Workflows.Api;
using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Errors;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Exceptions;

namespace Formanova.Host.Dashboard.Overview;

/// <summary>
/// Reads the overview: the workflows through the Temporal client (visibility counts and lists, and each running run's
/// progress as <c>GET /api/v1/jobs/{id}</c> reads it), the models from the registry, the predictions from
/// <see cref="PredictionStats"/>. A part that fails says why, and the others still show.
/// </summary>
internal sealed class OverviewReader(
    WorkflowGateway gateway,
    TemporalAvailability temporal,
    IModelModule models,
    IDataModule data,
    PredictionStats predictions,
    ILogger<OverviewReader> logger)
{
    /// <summary>Running runs whose progress is read (one query each); more are listed without it.</summary>
    public const int ProgressReads = 10;

    public const int ListSize = 15;

    public async Task<OverviewModel> ReadAsync(CancellationToken cancellationToken)
    {
        var workflows = WorkflowsAsync(cancellationToken);
        var registry = ModelsAsync(cancellationToken);
        return new OverviewModel(await workflows, await registry, predictions.Summary());
    }

    private async Task<WorkflowSummary> WorkflowsAsync(CancellationToken cancellationToken)
    {
        try
        {
            await temporal.EnsureReachableAsync(cancellationToken);
            var rpc = gateway.Rpc(cancellationToken);
            var counts = new List<KindCounts>();
            foreach (var (type, label) in WorkflowKinds.Listed)
            {
                var count = await gateway.Client.CountWorkflowsAsync(
                    $"WorkflowType = '{type}' GROUP BY ExecutionStatus",
                    new WorkflowCountOptions { Rpc = rpc });
                var byStatus = new Dictionary<string, long>(StringComparer.Ordinal);
                foreach (var group in count.Groups)
                {
                    var status = Enum.TryParse<WorkflowExecutionStatus>(group.GroupValues.FirstOrDefault()?.ToString(), out var parsed)
                        ? WorkflowKinds.StatusName(parsed)
                        : "unknown";
                    byStatus[status] = byStatus.GetValueOrDefault(status) + group.Count;
                }

                counts.Add(new KindCounts(WorkflowLocations.KindOf(type, ""), label, byStatus));
            }

            var running = await ListAsync($"{WorkflowKinds.ListedTypes} AND ExecutionStatus = 'Running'", rpc);
            var recent = await ListAsync($"{WorkflowKinds.ListedTypes} AND ExecutionStatus != 'Running'", rpc);
            var progress = await Task.WhenAll(running.Take(ProgressReads).Select(run => ProgressAsync(run, cancellationToken)));
            return new WorkflowSummary(counts, [.. progress, .. running.Skip(ProgressReads)], recent, null);
        }
        catch (Exception ex) when (ex is ModuleException or RpcException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogDebug(ex, "The overview could not read the workflows");
            return new WorkflowSummary([], [], [], ex is ModuleException { Kind: ErrorKind.Unavailable }
                ? "The workflow engine (Temporal) is unreachable, so workflows cannot be shown at the moment."
                : $"The workflows could not be read: {ex.Message}");
        }
    }

    private async Task<List<RunRow>> ListAsync(string query, RpcOptions rpc)
    {
        var page = await gateway.Client.ListWorkflowsPaginatedAsync(query, null, new WorkflowListPaginatedOptions
        {
            PageSize = ListSize,
            Rpc = rpc,
        });
        return [.. page.Workflows.Select(Row)];
    }

    /// <summary>A running run with its stage and progress as its kind reports them, or as listed if it cannot say.</summary>
    private async Task<RunRow> ProgressAsync(RunRow run, CancellationToken cancellationToken)
    {
        try
        {
            var view = await JobViews.ReadAsync(run.Id, gateway, data, cancellationToken);
            return run with { Status = view.Status, Stage = view.Stage, ProgressPercent = view.ProgressPercent };
        }
        catch (Exception ex) when (ex is ModuleException or RpcException && !cancellationToken.IsCancellationRequested)
        {
            return run;
        }
    }

    private async Task<ModelsSummary> ModelsAsync(CancellationToken cancellationToken)
    {
        try
        {
            var list = await models.ListModelsAsync(cancellationToken);
            return new ModelsSummary(
                [.. list.Select(m => new ModelRow(m.Name, m.Task.ToString(), m.ActiveVersion, m.VersionCount, m.LatestVersion, m.Aliases))],
                null);
        }
        catch (ModuleException ex)
        {
            return new ModelsSummary([], $"The model registry could not be read: {ex.Message}");
        }
    }

    internal static RunRow Row(WorkflowExecution execution) => new(
        execution.Id,
        WorkflowLocations.KindOf(execution.WorkflowType, execution.Id),
        WorkflowKinds.StatusName(execution.Status),
        null,
        null,
        execution.StartTime,
        execution.CloseTime);
}
