using Formanova.Host.Temporal;
using Formanova.Host.Workflows;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Options;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.WorkflowService.V1;
using Temporalio.Client;

namespace Formanova.Host.Telemetry;

/// <summary>
/// Reads the active-workflow counts and the activity backlog from the Temporal server every
/// <c>Temporal:StatsPollSeconds</c> for the gauges in <see cref="WorkflowMetrics"/>. The server is the only
/// truthful source: workflows started by one instance run on another, and tasks queue before any worker sees them.
/// One count per registered workflow type keeps the query to plain equality, which every visibility store answers.
/// </summary>
internal sealed class TemporalStatsPoller(
    ITemporalClient client,
    WorkflowGateway gateway,
    WorkflowMetrics metrics,
    IOptions<TemporalOptions> options,
    IReadOnlyList<string> workflowTypes,
    ILogger<TemporalStatsPoller> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(settings.StatsPollSeconds));
        var failing = false;
        do
        {
            try
            {
                await PollAsync(settings, stoppingToken);
                if (failing)
                {
                    logger.LogInformation("Temporal statistics are readable again");
                    failing = false;
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The gauges keep their last values; the Temporal health check reports the outage itself.
                if (!failing)
                {
                    logger.LogWarning(ex, "Could not read Temporal statistics for the workflow gauges");
                    failing = true;
                }
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One poll; not traced, like every background poll (docs/observability.md, "Background loops").</summary>
    internal async Task PollAsync(TemporalOptions settings, CancellationToken cancellationToken)
    {
        using var quiet = BackgroundTracing.Quiet();
        var rpc = gateway.Rpc(cancellationToken);
        foreach (var type in workflowTypes)
        {
            var count = await client.CountWorkflowsAsync(
                $"WorkflowType = '{type}' AND ExecutionStatus = 'Running'",
                new WorkflowCountOptions { Rpc = rpc });
            metrics.SetActive(type, count.Count);
        }

        var queue = await client.WorkflowService.DescribeTaskQueueAsync(
            new DescribeTaskQueueRequest
            {
                Namespace = settings.Namespace,
                TaskQueue = new Temporalio.Api.TaskQueue.V1.TaskQueue { Name = settings.TaskQueue },
                TaskQueueType = TaskQueueType.Activity,
                ReportStats = true,
            },
            rpc);
        // A server that keeps no statistics answers without them: no series then, rather than a made-up zero.
        if (queue.Stats is { } stats)
        {
            metrics.SetQueueDepth(settings.TaskQueue, stats.ApproximateBacklogCount);
        }
    }
}
