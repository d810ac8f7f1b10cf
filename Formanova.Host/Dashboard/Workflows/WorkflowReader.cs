using Formanova.Host.Temporal;
using Formanova.Host.Workflows;
using Formanova.Host.Workflows.Api;
using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Options;
using Temporalio.Api.History.V1;
using Temporalio.Api.Workflow.V1;
using Temporalio.Api.WorkflowService.V1;
using Temporalio.Client;
using Temporalio.Exceptions;

namespace Formanova.Host.Dashboard.Workflows;

/// <summary>
/// Reads a run for its page through the Temporal client, so it works on the embedded server and a real cluster alike:
/// the description, the status query (as <c>GET /api/v1/jobs/{id}</c> reads it), and the history for the timeline.
/// </summary>
internal sealed class WorkflowReader(
    WorkflowGateway gateway,
    TemporalAvailability temporal,
    IDataModule data,
    ActionScopes scopes,
    IOptions<DashboardOptions> options,
    TimeProvider time)
{
    /// <summary>
    /// The run with the actions a key holding <paramref name="held"/> may take now, or null when no run has this id. Throws
    /// the 503 ModuleException while Temporal is unreachable.
    /// </summary>
    public async Task<WorkflowModel?> ReadAsync(string id, Func<string, bool> held, CancellationToken cancellationToken)
    {
        await temporal.EnsureReachableAsync(cancellationToken);
        DescribeWorkflowExecutionResponse description;
        try
        {
            description = await gateway.Client.WorkflowService.DescribeWorkflowExecutionAsync(
                new DescribeWorkflowExecutionRequest
                {
                    Namespace = gateway.Client.Options.Namespace,
                    Execution = new Temporalio.Api.Common.V1.WorkflowExecution { WorkflowId = id },
                },
                gateway.Rpc(cancellationToken));
        }
        catch (RpcException ex) when (ex.Code == RpcException.StatusCode.NotFound)
        {
            return null;
        }

        var info = description.WorkflowExecutionInfo;
        var workflowType = info.Type.Name;

        JobView? view = null;
        string? statusError = null;
        if (WorkflowKinds.Listed.Any(k => k.Type == workflowType))
        {
            try
            {
                view = await JobViews.ReadAsync(id, gateway, data, cancellationToken);
            }
            catch (Exception ex) when (ex is ModuleException or RpcException && !cancellationToken.IsCancellationRequested)
            {
                statusError = $"The run's status could not be read: {ex.Message}";
            }
        }

        var state = new RunState(view?.Status ?? WorkflowKinds.StatusName(info.Status), view?.Stage, view?.Paused ?? false);
        var (timeline, timelineError) = await TimelineAsync(id, info.Execution.RunId, description.PendingActivities, cancellationToken);
        var actions = WorkflowActions.For(workflowType)
            .Where(a => a.Available(state) && scopes.Of(a) is { } scope && held(scope))
            .Select(a => new ActionModel(a.Name, a.Label, DashboardPaths.Action(id, a.Name), a.Danger, a.Fields ?? []))
            .ToList();
        return new WorkflowModel(
            id,
            workflowType,
            WorkflowLocations.KindOf(workflowType, id),
            state.Status,
            state.Stage,
            view?.ProgressPercent,
            state.Paused,
            info.StartTime.ToDateTime(),
            info.CloseTime?.ToDateTime(),
            view?.Error,
            [.. (view?.Errors ?? []).Select(e => new ErrorLine(e.At, e.Stage, e.Type, e.Message, e.Handled))],
            WorkflowLocations.PathOf(workflowType, id),
            statusError,
            timeline,
            timelineError,
            actions);
    }

    private async Task<(TimelineModel? Timeline, string? Error)> TimelineAsync(
        string id,
        string runId,
        IReadOnlyList<PendingActivityInfo> pending,
        CancellationToken cancellationToken)
    {
        var max = options.Value.MaxHistoryEvents;
        var events = new List<HistoryEvent>();
        var truncated = false;
        try
        {
            var handle = gateway.Client.GetWorkflowHandle(id, runId);
            var fetch = new WorkflowHistoryEventFetchOptions { Rpc = gateway.Rpc(cancellationToken) };
            await foreach (var e in handle.FetchHistoryEventsAsync(fetch))
            {
                if (events.Count == max)
                {
                    truncated = true;
                    break;
                }

                events.Add(e);
            }
        }
        catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"The run's history could not be read: {ex.Message}");
        }

        return (WorkflowTimeline.Build(events, pending, time.GetUtcNow().UtcDateTime, truncated), null);
    }
}
