using System.Diagnostics;
using Formanova.Modules.Shared.Telemetry;
using Temporalio.Activities;
using Temporalio.Exceptions;
using Temporalio.Worker.Interceptors;
using Temporalio.Workflows;

namespace Formanova.Host.Telemetry;

/// <summary>
/// Worker side of the workflow and activity telemetry. Workflow code must replay deterministically, so the
/// workflow interceptor only observes: it forwards the trace header it was started with to every activity and
/// child it schedules, and records a run's outcome only on the live (non-replaying) completion. Activities run
/// once per attempt and may do anything, so their interceptor opens the span, the log scope and the timers.
/// </summary>
internal sealed class TemporalWorkerInterceptor(WorkflowMetrics metrics, ILogger<TemporalWorkerInterceptor> logger) : IWorkerInterceptor
{
    public WorkflowInboundInterceptor InterceptWorkflow(WorkflowInboundInterceptor nextInterceptor)
        => new WorkflowInbound(nextInterceptor, metrics);

    public ActivityInboundInterceptor InterceptActivity(ActivityInboundInterceptor nextInterceptor)
        => new ActivityInbound(nextInterceptor, metrics, logger);

    /// <summary>The outcome label of a run that ended with <paramref name="ex"/>; null when the run did not close.</summary>
    internal static string? WorkflowOutcome(Exception ex) => ex switch
    {
        // Continue-as-new closes this run but not the workflow; the last run in the chain is the one counted.
        ContinueAsNewException => null,
        _ when TemporalException.IsCanceledException(ex) => RunOutcome.Canceled,
        FailureException => RunOutcome.Failed,
        // Any other exception fails the workflow task, which the server retries: the run is still open.
        _ => null,
    };

    private sealed class WorkflowInbound(WorkflowInboundInterceptor next, WorkflowMetrics metrics) : WorkflowInboundInterceptor(next)
    {
        public override void Init(WorkflowOutboundInterceptor outbound) => base.Init(new WorkflowOutbound(outbound));

        public override async Task<object?> ExecuteWorkflowAsync(ExecuteWorkflowInput input)
        {
            object? result;
            try
            {
                result = await base.ExecuteWorkflowAsync(input);
            }
            catch (Exception ex) when (WorkflowOutcome(ex) is { } outcome)
            {
                Record(outcome);
                throw;
            }

            Record(RunOutcome.Completed);
            return result;
        }

        private void Record(string outcome)
        {
            // A replay re-runs code whose completion is already in the history; only the live completion counts.
            if (Workflow.Unsafe.IsReplaying)
            {
                return;
            }

            var info = Workflow.Info;
            var type = new KeyValuePair<string, object?>("workflow_type", info.WorkflowType);
            var label = new KeyValuePair<string, object?>("outcome", outcome);
            // Wall clock on purpose: nothing here feeds back into workflow state, and Workflow.UtcNow is the task's start.
            metrics.WorkflowDuration.Record(Math.Max(0, (DateTime.UtcNow - info.WorkflowStartTime).TotalSeconds), type, label);
            metrics.WorkflowExecutions.Add(1, type, label);
            // Workflow.Logger carries the SDK's workflow scope (id, run id, type, task queue).
            if (outcome == "failed")
            {
                Workflow.Logger.LogError("Workflow {WorkflowType} {WorkflowId} failed", info.WorkflowType, info.WorkflowId);
            }
        }
    }

    /// <summary>Forwards the workflow's own trace header (set by the client that started it) to what it schedules.</summary>
    private sealed class WorkflowOutbound(WorkflowOutboundInterceptor next) : WorkflowOutboundInterceptor(next)
    {
        public override Task<TResult> ScheduleActivityAsync<TResult>(ScheduleActivityInput input) =>
            base.ScheduleActivityAsync<TResult>(input with { Headers = TemporalTracing.With(input.Headers, Trace) });

        public override Task<TResult> ScheduleLocalActivityAsync<TResult>(ScheduleLocalActivityInput input) =>
            base.ScheduleLocalActivityAsync<TResult>(input with { Headers = TemporalTracing.With(input.Headers, Trace) });

        public override Task<ChildWorkflowHandle<TWorkflow, TResult>> StartChildWorkflowAsync<TWorkflow, TResult>(
            StartChildWorkflowInput input) =>
            base.StartChildWorkflowAsync<TWorkflow, TResult>(input with { Headers = TemporalTracing.With(input.Headers, Trace) });

        // Read from the start event's headers, which are part of the history: identical on every replay.
        private static Temporalio.Api.Common.V1.Payload? Trace =>
            Workflow.Info.Headers is { } headers && headers.TryGetValue(TemporalTracing.HeaderKey, out var payload) ? payload : null;
    }

    private sealed class ActivityInbound(
        ActivityInboundInterceptor next,
        WorkflowMetrics metrics,
        ILogger logger) : ActivityInboundInterceptor(next)
    {
        public override async Task<object?> ExecuteActivityAsync(ExecuteActivityInput input)
        {
            var info = ActivityExecutionContext.Current.Info;
            using var span = FormanovaTelemetry.ActivitySource.StartActivity(
                $"RunActivity:{info.ActivityType}", ActivityKind.Server, TemporalTracing.Extract(input.Headers));
            span?.SetTag("temporal.workflow.id", info.WorkflowId);
            span?.SetTag("temporal.workflow.type", info.WorkflowType);
            span?.SetTag("temporal.activity.type", info.ActivityType);
            span?.SetTag("temporal.activity.attempt", info.Attempt);
            // A scope rather than fields on each call: every line any module logs during the attempt carries them.
            using var scope = logger.BeginScope(new ActivityLogScope(info.WorkflowId, info.WorkflowType, info.ActivityType, info.Attempt));

            var activity = new KeyValuePair<string, object?>("activity", info.ActivityType);
            if (info.Attempt > 1 && info.WorkflowType is { } workflowType)
            {
                metrics.WorkflowRetries.Add(1, new KeyValuePair<string, object?>("workflow_type", workflowType), activity);
            }

            var started = Stopwatch.GetTimestamp();
            var outcome = RunOutcome.Failed;
            try
            {
                var result = await base.ExecuteActivityAsync(input);
                outcome = RunOutcome.Completed;
                return result;
            }
            catch (Exception ex)
            {
                span?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
                // Warning, not Error: the retry policy usually tries again; the workflow reports a final failure.
                logger.LogWarning(
                    "Activity {ActivityType} attempt {Attempt} failed: {ErrorType}",
                    info.ActivityType,
                    info.Attempt,
                    ex.GetType().Name);
                throw;
            }
            finally
            {
                var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
                var label = new KeyValuePair<string, object?>("outcome", outcome);
                metrics.ActivityDuration.Record(elapsed, activity, label);
                metrics.ActivityExecutions.Add(1, activity, label);
                logger.LogDebug(
                    "Activity {ActivityType} attempt {Attempt} {Outcome} in {Seconds:F3} s",
                    info.ActivityType,
                    info.Attempt,
                    outcome,
                    elapsed);
            }
        }
    }
}

/// <summary>
/// The log scope of an activity attempt: named fields for the JSON formatter, and a readable line for the simple
/// one (a dictionary would print its type name as the scope's message).
/// </summary>
internal sealed class ActivityLogScope(
    string? workflowId,
    string? workflowType,
    string activityType,
    int attempt) : IReadOnlyList<KeyValuePair<string, object?>>
{
    private readonly KeyValuePair<string, object?>[] _fields =
    [
        new("WorkflowId", workflowId),
        new("WorkflowType", workflowType),
        new("ActivityType", activityType),
        new("Attempt", attempt),
    ];

    public int Count => _fields.Length;

    public KeyValuePair<string, object?> this[int index] => _fields[index];

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        => ((IEnumerable<KeyValuePair<string, object?>>)_fields).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString()
        => $"WorkflowId:{workflowId} WorkflowType:{workflowType} ActivityType:{activityType} Attempt:{attempt}";
}
