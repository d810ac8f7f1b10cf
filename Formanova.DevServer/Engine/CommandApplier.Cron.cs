using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.History.V1;

namespace Formanova.DevServer.Engine;

internal sealed partial class CommandApplier
{
    /// <summary>
    /// A cron workflow whose run completes, or fails with no retry left, goes on as a new run (initiator
    /// CRON_SCHEDULE) whose first task waits for the next cron time; it carries the last completion result, and the
    /// failure when the run failed. Cancel and terminate end the chain.
    /// </summary>
    private WorkflowRun? NextCronRun(
        WorkflowRun run,
        Payloads? lastResult,
        Temporalio.Api.Failure.V1.Failure? failure,
        List<Action> after)
    {
        if (string.IsNullOrEmpty(run.Start.CronSchedule))
        {
            return null;
        }

        var next = RepeatRunAttributes(run);
        next.CronSchedule = run.Start.CronSchedule;
        next.RetryPolicy = run.Start.RetryPolicy;
        next.Initiator = ContinueAsNewInitiator.CronSchedule;
        next.LastCompletionResult = lastResult;
        next.ContinuedFailure = failure;
        var backoff = CronSchedules.Backoff(run.Start.CronSchedule, clock.GetUtcNow().UtcDateTime);
        next.FirstWorkflowTaskBackoff = Duration.FromTimeSpan(backoff);
        return effects.CreateChainedRun(run, next, after);
    }

    private void PublishCronRun(WorkflowRun run, WorkflowRun? cronRun)
    {
        if (cronRun is not null)
        {
            effects.PublishChainedRun(run, cronRun);
        }
    }

    /// <summary>The next run of the same workflow, as a retry or a cron run starts it: same type, queue, input and options.</summary>
    private static WorkflowExecutionStartedEventAttributes RepeatRunAttributes(WorkflowRun run) => NewRunAttributes(
        run,
        run.Start.WorkflowType,
        run.Start.TaskQueue,
        run.Start.Input,
        run.Start.WorkflowRunTimeout,
        run.Start.WorkflowTaskTimeout,
        run.Start.Header,
        run.Memo,
        run.SearchAttributes);
}
