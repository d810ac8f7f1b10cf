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

    public void SetActive(string workflowType, long count) => _active[workflowType] = count;

    public void SetQueueDepth(string taskQueue, long count) => _queueDepth[taskQueue] = count;

    private static IEnumerable<Measurement<long>> Observe(ConcurrentDictionary<string, long> values, string label) =>
        values.Select(kv => new Measurement<long>(kv.Value, new KeyValuePair<string, object?>(label, kv.Key)));
}
