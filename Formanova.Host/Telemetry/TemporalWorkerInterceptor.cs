using System.Diagnostics;
using Formanova.Host.Workflows.Common;
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
                Record(outcome, ex);
                throw;
            }

            Record(RunOutcome.Completed, null);
            return result;
        }

        private void Record(string outcome, Exception? failure)
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
            if (outcome == RunOutcome.Failed && failure is not null)
            {
                LogFailed(info, failure);
            }
        }
    }

    /// <summary>
    /// The one line a failed run gets: where it failed (the workflow's stage, and the activity or child workflow
    /// whose failure ended it), the cause as the run's stored error has it, and the trace of the request that started
    /// it. The workflow opens no span, so the trace comes from the header it was started with (the start's span).
    /// Workflow.Logger adds the SDK's workflow scope (run id, task queue).
    /// </summary>
    private static void LogFailed(WorkflowInfo info, Exception failure)
    {
        var trace = TemporalTracing.Extract(info.Headers);
        var traced = trace.TraceId != default;
        Workflow.Logger.LogError(
            "Workflow {WorkflowType} {WorkflowId} failed at {Stage} in {Step}: {ErrorType}: {Error} trace={TraceId} span={SpanId}",
            info.WorkflowType,
            info.WorkflowId,
            RunFailure.StageOf(failure) ?? "-",
            FailedStep(failure) ?? "-",
            ActivityErrors.TypeOf(failure),
            ActivityErrors.Describe(failure),
            traced ? trace.TraceId.ToHexString() : "-",
            traced ? trace.SpanId.ToHexString() : "-");
    }

    /// <summary>The activity or child workflow whose failure ended the run; null when the workflow raised it itself.</summary>
    private static string? FailedStep(Exception failure)
    {
        for (var current = failure; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case ActivityFailureException activity:
                    return activity.ActivityType;
                case ChildWorkflowFailureException child:
                    return child.WorkflowType;
            }
        }

        return null;
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
            // The SDK's activity scope (workflow id, run id and type, activity type, attempt) is already open around
            // the attempt, so every line any module logs during it carries those fields.
            var activity = new KeyValuePair<string, object?>("activity", info.ActivityType);
            if (info.Attempt > 1 && info.WorkflowType is { } workflowType)
            {
                metrics.WorkflowRetries.Add(1, new KeyValuePair<string, object?>("workflow_type", workflowType), activity);
            }

            var started = Stopwatch.GetTimestamp();
            Exception? failure = null;
            var canceled = false;
            try
            {
                return await base.ExecuteActivityAsync(input);
            }
            catch (OperationCanceledException ex) when (ActivityExecutionContext.Current.CancelReason != ActivityCancelReason.None)
            {
                // Not a failure of the step: the worker is shutting down (the attempt goes back to the server), the run
                // was cancelled, or the attempt timed out (the server records that). Counted and logged apart, so a
                // scale-in does not page anyone through HighActivityFailureRate.
                failure = ex;
                canceled = true;
                logger.LogInformation(
                    "Activity {ActivityType} attempt {Attempt} canceled: {CancelReason}",
                    info.ActivityType,
                    info.Attempt,
                    ActivityExecutionContext.Current.CancelReason);
                throw;
            }
            catch (Exception ex)
            {
                failure = ex;
                span?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
                // Warning, not Error: the retry policy usually tries again; the workflow reports a final failure. The
                // cause as the run's error records it, without the stack: the Debug line below has the exception.
                logger.LogWarning(
                    "Activity {ActivityType} attempt {Attempt} failed: {ErrorType}: {Error}",
                    info.ActivityType,
                    info.Attempt,
                    ActivityErrors.TypeOf(ex),
                    ActivityErrors.Describe(ex));
                throw;
            }
            finally
            {
                var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
                var outcome = (failure, canceled) switch
                {
                    (null, _) => RunOutcome.Completed,
                    (_, true) => RunOutcome.Canceled,
                    _ => RunOutcome.Failed,
                };
                var label = new KeyValuePair<string, object?>("outcome", outcome);
                metrics.ActivityDuration.Record(elapsed, activity, label);
                metrics.ActivityExecutions.Add(1, activity, label);
                logger.LogDebug(
                    failure,
                    "Activity {ActivityType} attempt {Attempt} {Outcome} in {Seconds:F3} s",
                    info.ActivityType,
                    info.Attempt,
                    outcome,
                    elapsed);
            }
        }
    }
}
