using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Formanova.Modules.Shared.Telemetry;

namespace Formanova.Host.Telemetry;

/// <summary>
/// The workflow and activity instruments of docs/observability.md, on the process meter. Counters and histograms are recorded by
/// <see cref="TemporalWorkerInterceptor"/>; the two gauges report what <see cref="TemporalStatsPoller"/> last read
/// from the Temporal server, because only the server knows every worker's running workflows and queued tasks.
/// </summary>
internal sealed class WorkflowMetrics
{
    private readonly ConcurrentDictionary<string, long> _active = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _queueDepth = new(StringComparer.Ordinal);

    public WorkflowMetrics(IMeterFactory meterFactory)
    {
        // The factory hands back the one "Formanova" meter, so these share the seconds buckets of the model instruments.
        var meter = meterFactory.Create(FormanovaTelemetry.MeterName);
        WorkflowDuration = meter.CreateHistogram<double>(
            "formanova.workflow.execution.duration",
            "s",
            "Wall time of a workflow run, from its start on the server to its completion, by workflow type and outcome.");
        WorkflowExecutions = meter.CreateCounter<long>(
            "formanova.workflow.executions",
            "{execution}",
            "Workflow runs that closed, by workflow type and outcome: completed, failed, canceled, terminated or timed_out.");
        WorkflowRetries = meter.CreateCounter<long>(
            "formanova.workflow.retries",
            "{retry}",
            "Activity attempts after the first (a retry by the workflow's retry policy), by workflow type and activity.");
        ActivityDuration = meter.CreateHistogram<double>(
            "formanova.activity.execution.duration",
            "s",
            "Wall time of one activity attempt, by activity and outcome.");
        ActivityExecutions = meter.CreateCounter<long>(
            "formanova.activity.executions",
            "{attempt}",
            "Activity attempts, by activity and outcome: completed or failed.");
        meter.CreateObservableGauge(
            "formanova.workflow.active",
            () => Observe(_active, "workflow_type"),
            "{workflow}",
            "Running workflows by type, as the Temporal server's visibility store last reported them.");
        meter.CreateObservableGauge(
            "formanova.activity.queue_depth",
            () => Observe(_queueDepth, "task_queue"),
            "{task}",
            "Activity tasks waiting for a worker, by task queue, as the Temporal server last reported them.");
    }

    public Histogram<double> WorkflowDuration { get; }

    public Counter<long> WorkflowExecutions { get; }

    public Counter<long> WorkflowRetries { get; }

    public Histogram<double> ActivityDuration { get; }

    public Counter<long> ActivityExecutions { get; }

    /// <summary>
    /// Exports every counter series the worker can emit at zero (see <see cref="KnownSeries"/>): each workflow type by
    /// outcome, each activity by outcome, and the retries of every activity under every workflow type. A workflow
    /// schedules only some of the activities and nothing says which, so most retry series stay at zero; the dashboard
    /// hides series at zero where it splits by workflow type or activity.
    /// </summary>
    public void ExportAtZero(IReadOnlyCollection<string> workflowTypes, IReadOnlyCollection<string> activities)
    {
        foreach (var type in workflowTypes)
        {
            var workflowType = new KeyValuePair<string, object?>("workflow_type", type);
            foreach (var outcome in RunOutcome.OfWorkflow)
            {
                WorkflowExecutions.Add(0, workflowType, new KeyValuePair<string, object?>("outcome", outcome));
            }

            foreach (var activity in activities)
            {
                WorkflowRetries.Add(0, workflowType, new KeyValuePair<string, object?>("activity", activity));
            }
        }

        foreach (var activity in activities)
        {
            foreach (var outcome in RunOutcome.OfActivity)
            {
                ActivityExecutions.Add(
                    0,
                    new KeyValuePair<string, object?>("activity", activity),
                    new KeyValuePair<string, object?>("outcome", outcome));
            }
        }
    }

    public void SetActive(string workflowType, long count) => _active[workflowType] = count;

    public void SetQueueDepth(string taskQueue, long count) => _queueDepth[taskQueue] = count;

    private static IEnumerable<Measurement<long>> Observe(ConcurrentDictionary<string, long> values, string label) =>
        values.Select(kv => new Measurement<long>(kv.Value, new KeyValuePair<string, object?>(label, kv.Key)));
}

/// <summary>
/// The <c>outcome</c> values the worker interceptor records, and so the ones <see cref="WorkflowMetrics.ExportAtZero"/>
/// exports. <c>terminated</c> and <c>timed_out</c> happen on the server, where no worker sees them (docs/observability.md).
/// </summary>
internal static class RunOutcome
{
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Canceled = "canceled";

    public static readonly IReadOnlyList<string> OfWorkflow = [Completed, Failed, Canceled];

    public static readonly IReadOnlyList<string> OfActivity = [Completed, Failed, Canceled];
}
