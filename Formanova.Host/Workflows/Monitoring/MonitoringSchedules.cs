using Formanova.Host.Temporal;
using Formanova.Modules.Model;
using Microsoft.Extensions.Options;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Client.Schedules;
using Temporalio.Exceptions;

namespace Formanova.Host.Workflows.Monitoring;

/// <summary>
/// Each monitored model's Temporal schedule (<c>model-monitoring-{name}</c>): every policy interval it starts a
/// <see cref="ModelMonitoringWorkflow"/>, one at a time. Kept by Temporal, so it outlives any host process.
/// </summary>
internal sealed class MonitoringSchedules(WorkflowGateway gateway, IOptions<TemporalOptions> temporal)
{
    public const string IdPrefix = "model-monitoring-";

    public static string IdOf(string model) => IdPrefix + model;

    /// <summary>Creates the model's schedule, or replaces it when the policy changed (a disabled policy has none).</summary>
    public async Task ApplyAsync(MonitoringPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        await DeleteAsync(policy.Model, cancellationToken);
        if (!policy.Enabled)
        {
            return;
        }

        var input = new MonitoringRunInput(policy.Model, gateway.Policy());
        var action = ScheduleActionStartWorkflow.Create<ModelMonitoringWorkflow, MonitoringRunResult>(
            wf => wf.RunAsync(input),
            new WorkflowOptions(IdOf(policy.Model), temporal.Value.TaskQueue));
        var schedule = new Schedule(action, new ScheduleSpec
        {
            Intervals = [new ScheduleIntervalSpec(TimeSpan.FromMinutes(policy.IntervalMinutes))],
        })
        {
            Policy = new SchedulePolicy { Overlap = ScheduleOverlapPolicy.Skip },
        };
        try
        {
            var options = new ScheduleOptions { Rpc = gateway.Rpc(cancellationToken) };
            await gateway.Client.CreateScheduleAsync(IdOf(policy.Model), schedule, options);
        }
        catch (ScheduleAlreadyRunningException)
        {
            // Two writers of the same policy at once: the schedule the other created stands.
        }
    }

    public async Task DeleteAsync(string model, CancellationToken cancellationToken)
    {
        try
        {
            await gateway.Client.GetScheduleHandle(IdOf(model)).DeleteAsync(gateway.Rpc(cancellationToken));
        }
        catch (RpcException ex) when (ex.Code == RpcException.StatusCode.NotFound)
        {
        }
    }

    /// <summary>The next times the schedule fires (none when there is no schedule).</summary>
    public async Task<IReadOnlyList<DateTime>> NextRunsAsync(string model, CancellationToken cancellationToken)
    {
        try
        {
            var described = await gateway.Client.GetScheduleHandle(IdOf(model)).DescribeAsync(gateway.Rpc(cancellationToken));
            return [.. described.Info.NextActionTimes.Take(3)];
        }
        catch (RpcException ex) when (ex.Code == RpcException.StatusCode.NotFound)
        {
            return [];
        }
    }
}
