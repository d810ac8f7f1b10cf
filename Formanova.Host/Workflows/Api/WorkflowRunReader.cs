using System.Linq.Expressions;
using Formanova.Modules.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;

namespace Formanova.Host.Workflows.Api;

/// <summary>
/// A run as a GET endpoint shows it: its description, and the live state its query answers while it runs, or the
/// outcome it stored (result step <c>result</c>) once it has closed.
/// </summary>
internal sealed record WorkflowRun<TLive>(WorkflowExecutionDescription Description, TLive? Live, ProcessingResult? Stored)
{
    public bool Running => Description.Status == WorkflowExecutionStatus.Running;

    public string Status => WorkflowGateway.StatusName(Description.Status);
}

/// <summary>The one read path of the GET endpoints of every workflow type, and the signal endpoints' answer.</summary>
internal static class WorkflowRunReader
{
    /// <summary>
    /// NotFound when no <typeparamref name="TWorkflow"/> run has this id. A caller that already described the run
    /// (GET /jobs/{id}, which reads every kind) passes <paramref name="described"/> to save the round trip.
    /// </summary>
    public static async Task<WorkflowRun<TLive>> ReadRunAsync<TWorkflow, TLive>(
        this WorkflowGateway gateway,
        IDataModule data,
        string id,
        Expression<Func<TWorkflow, TLive>> live,
        CancellationToken cancellationToken,
        WorkflowExecutionDescription? described = null)
    {
        var description = described ?? await gateway.DescribeAsync<TWorkflow>(id, cancellationToken);
        if (description.Status == WorkflowExecutionStatus.Running)
        {
            return new(description, await gateway.TryQueryAsync(id, live, cancellationToken), null);
        }

        var results = await data.QueryResultsAsync(new ResultQuery(JobId: id, Limit: 10), cancellationToken);
        return new(description, default, results.Items.FirstOrDefault(r => r.Step == "result"));
    }

    /// <summary>Signals a running run through its <c>[WorkflowSignal]</c> method: 204, or 409 when it has closed.</summary>
    public static async Task<NoContent> SignalRunAsync<TWorkflow>(
        this WorkflowGateway gateway,
        string id,
        Expression<Func<TWorkflow, Task>> signal,
        CancellationToken cancellationToken)
    {
        await gateway.SignalAsync(id, signal, cancellationToken);
        return TypedResults.NoContent();
    }
}
