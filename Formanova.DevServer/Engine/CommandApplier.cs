using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Command.V1;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.History.V1;

namespace Formanova.DevServer.Engine;

/// <summary>What applying commands needs from the engine: the work that reaches past the run being completed.</summary>
internal interface ICommandEffects
{
    void ArmTimer(WorkflowRun run, string timerId, TimerState timer);

    WorkflowRun CreateChainedRun(WorkflowRun run, WorkflowExecutionStartedEventAttributes attributes, List<Action> after);

    void PublishChainedRun(WorkflowRun run, WorkflowRun newRun);

    void LaunchChild(WorkflowRun parent, long initiatedId, StartChildWorkflowExecutionInitiatedEventAttributes attributes);

    void DeliverExternal(WorkflowRun source, HistoryEvent initiated);
}

/// <summary>
/// Turns a completed workflow task's commands into history events on the run, under its lock. Work on other runs
/// (children, external signals and cancels, the next run of a chain) goes through <see cref="ICommandEffects"/>
/// and, where it takes another run's lock, into the follow-up actions that run after this lock is released.
/// </summary>
internal sealed partial class CommandApplier(ActivityDispatcher activities, ICommandEffects effects, TimeProvider clock)
{
    /// <summary>
    /// Commands are checked before any is applied: the event log cannot be rolled back, so a bad command must
    /// fail the whole task without writing half of it.
    /// </summary>
    public static (WorkflowTaskFailedCause Cause, string Message)? Validate(WorkflowRun run, IEnumerable<Command> commands)
    {
        var activityIds = new HashSet<string>(run.Activities.Values.Select(a => a.Attributes.ActivityId));
        var timerIds = new HashSet<string>(run.Timers.Keys);
        var closed = false;
        foreach (var command in commands)
        {
            if (closed)
            {
                return (
                    WorkflowTaskFailedCause.BadCompleteWorkflowExecutionAttributes,
                    "Commands follow a command that closes the workflow.");
            }

            switch (command.CommandType)
            {
                case CommandType.ScheduleActivityTask:
                    var a = command.ScheduleActivityTaskCommandAttributes;
                    if (a is null || string.IsNullOrEmpty(a.ActivityId) || string.IsNullOrEmpty(a.ActivityType?.Name))
                    {
                        return (WorkflowTaskFailedCause.BadScheduleActivityAttributes, "ActivityId and ActivityType are required.");
                    }

                    if (!activityIds.Add(a.ActivityId))
                    {
                        return (WorkflowTaskFailedCause.BadScheduleActivityAttributes, $"Activity id {a.ActivityId} is already in use.");
                    }

                    if (Durations.Positive(a.ScheduleToCloseTimeout) is null && Durations.Positive(a.StartToCloseTimeout) is null)
                    {
                        return (
                            WorkflowTaskFailedCause.BadScheduleActivityAttributes,
                            "A ScheduleToClose or StartToClose timeout is required.");
                    }

                    break;
                case CommandType.StartTimer:
                    var t = command.StartTimerCommandAttributes;
                    if (t is null || string.IsNullOrEmpty(t.TimerId) || !timerIds.Add(t.TimerId))
                    {
                        return (WorkflowTaskFailedCause.BadStartTimerAttributes, "Timer id is missing or already in use.");
                    }

                    break;
                case CommandType.CancelTimer:
                    if (command.CancelTimerCommandAttributes is not { } ct || !timerIds.Remove(ct.TimerId))
                    {
                        return (WorkflowTaskFailedCause.BadCancelTimerAttributes, "Timer to cancel is not pending.");
                    }

                    break;
                case CommandType.RequestCancelActivityTask:
                    if (command.RequestCancelActivityTaskCommandAttributes is not { } rc
                        || !run.Activities.ContainsKey(rc.ScheduledEventId))
                    {
                        return (WorkflowTaskFailedCause.BadRequestCancelActivityAttributes, "Activity to cancel is not pending.");
                    }

                    break;
                case CommandType.StartChildWorkflowExecution:
                    var c = command.StartChildWorkflowExecutionCommandAttributes;
                    if (c is null || string.IsNullOrEmpty(c.WorkflowId) || string.IsNullOrEmpty(c.WorkflowType?.Name))
                    {
                        return (
                            WorkflowTaskFailedCause.BadStartChildExecutionAttributes,
                            "Child WorkflowId and WorkflowType are required.");
                    }

                    break;
                case CommandType.SignalExternalWorkflowExecution:
                    if (string.IsNullOrEmpty(command.SignalExternalWorkflowExecutionCommandAttributes?.Execution?.WorkflowId))
                    {
                        return (WorkflowTaskFailedCause.BadSignalWorkflowExecutionAttributes, "Signal target is required.");
                    }

                    break;
                case CommandType.RequestCancelExternalWorkflowExecution:
                    if (string.IsNullOrEmpty(command.RequestCancelExternalWorkflowExecutionCommandAttributes?.WorkflowId))
                    {
                        return (WorkflowTaskFailedCause.BadRequestCancelExternalWorkflowExecutionAttributes, "Cancel target is required.");
                    }

                    break;
                case CommandType.CompleteWorkflowExecution:
                case CommandType.FailWorkflowExecution:
                case CommandType.CancelWorkflowExecution:
                case CommandType.ContinueAsNewWorkflowExecution:
                    closed = true;
                    break;
                case CommandType.RecordMarker:
                case CommandType.ProtocolMessage:
                case CommandType.UpsertWorkflowSearchAttributes:
                case CommandType.ModifyWorkflowProperties:
                    break;
                default:
                    return (
                        WorkflowTaskFailedCause.UnhandledCommand,
                        $"Command {command.CommandType} is not supported by the Formanova dev server.");
            }
        }

        return null;
    }

    public void Apply(
        WorkflowRun run,
        Command command,
        long completedId,
        string identity,
        List<Action> after,
        List<ActivityState> eager)
    {
        switch (command.CommandType)
        {
            case CommandType.ScheduleActivityTask:
                var schedule = command.ScheduleActivityTaskCommandAttributes;
                activities.ScheduleActivity(run, schedule, completedId, after, eager, command.UserMetadata);
                break;
            case CommandType.RequestCancelActivityTask:
                ActivityDispatcher.CancelActivity(run, command.RequestCancelActivityTaskCommandAttributes.ScheduledEventId, completedId);
                break;
            case CommandType.StartTimer:
                var start = command.StartTimerCommandAttributes;
                run.Add(EventType.TimerStarted, e =>
                {
                    e.TimerStartedEventAttributes = new TimerStartedEventAttributes
                    {
                        TimerId = start.TimerId,
                        StartToFireTimeout = start.StartToFireTimeout ?? new Duration(),
                        WorkflowTaskCompletedEventId = completedId,
                    };
                    e.UserMetadata = command.UserMetadata;
                });
                effects.ArmTimer(run, start.TimerId, run.Timers[start.TimerId]);
                break;
            case CommandType.CancelTimer:
                var timerId = command.CancelTimerCommandAttributes.TimerId;
                var timer = run.Timers[timerId];
                run.Add(EventType.TimerCanceled, e => e.TimerCanceledEventAttributes = new TimerCanceledEventAttributes
                {
                    TimerId = timerId,
                    StartedEventId = timer.StartedEventId,
                    WorkflowTaskCompletedEventId = completedId,
                    Identity = identity,
                });
                break;
            case CommandType.RecordMarker:
                var marker = command.RecordMarkerCommandAttributes;
                run.Add(EventType.MarkerRecorded, e =>
                {
                    e.MarkerRecordedEventAttributes = new MarkerRecordedEventAttributes
                    {
                        MarkerName = marker.MarkerName,
                        Header = marker.Header,
                        Failure = marker.Failure,
                        WorkflowTaskCompletedEventId = completedId,
                    };
                    e.MarkerRecordedEventAttributes.Details.Add(marker.Details);
                });
                break;
            case CommandType.UpsertWorkflowSearchAttributes:
                run.Add(EventType.UpsertWorkflowSearchAttributes, e => e.UpsertWorkflowSearchAttributesEventAttributes
                    = new UpsertWorkflowSearchAttributesEventAttributes
                    {
                        SearchAttributes = command.UpsertWorkflowSearchAttributesCommandAttributes.SearchAttributes
                            ?? new SearchAttributes(),
                        WorkflowTaskCompletedEventId = completedId,
                    });
                break;
            case CommandType.ModifyWorkflowProperties:
                run.Add(EventType.WorkflowPropertiesModified, e => e.WorkflowPropertiesModifiedEventAttributes
                    = new WorkflowPropertiesModifiedEventAttributes
                    {
                        UpsertedMemo = command.ModifyWorkflowPropertiesCommandAttributes.UpsertedMemo,
                        WorkflowTaskCompletedEventId = completedId,
                    });
                break;
            case CommandType.CompleteWorkflowExecution:
                var cronRun = NextCronRun(run, command.CompleteWorkflowExecutionCommandAttributes.Result, null, after);
                run.Add(EventType.WorkflowExecutionCompleted, e => e.WorkflowExecutionCompletedEventAttributes
                    = new WorkflowExecutionCompletedEventAttributes
                    {
                        Result = command.CompleteWorkflowExecutionCommandAttributes.Result,
                        WorkflowTaskCompletedEventId = completedId,
                        NewExecutionRunId = cronRun?.RunId ?? "",
                    });
                PublishCronRun(run, cronRun);
                break;
            case CommandType.FailWorkflowExecution:
                FailWorkflow(run, command.FailWorkflowExecutionCommandAttributes.Failure, completedId, after);
                break;
            case CommandType.CancelWorkflowExecution:
                run.Add(EventType.WorkflowExecutionCanceled, e => e.WorkflowExecutionCanceledEventAttributes
                    = new WorkflowExecutionCanceledEventAttributes
                    {
                        Details = command.CancelWorkflowExecutionCommandAttributes.Details,
                        WorkflowTaskCompletedEventId = completedId,
                    });
                break;
            case CommandType.ContinueAsNewWorkflowExecution:
                ContinueAsNew(run, command.ContinueAsNewWorkflowExecutionCommandAttributes, completedId, identity, after);
                break;
            case CommandType.StartChildWorkflowExecution:
                StartChild(run, command, completedId, after);
                break;
            case CommandType.SignalExternalWorkflowExecution:
                SignalExternal(run, command.SignalExternalWorkflowExecutionCommandAttributes, completedId, after);
                break;
            case CommandType.RequestCancelExternalWorkflowExecution:
                CancelExternal(run, command.RequestCancelExternalWorkflowExecutionCommandAttributes, completedId, after);
                break;
        }
    }

    /// <summary>A failing workflow with a retry policy is retried as a new run of the same workflow id.</summary>
    private void FailWorkflow(WorkflowRun run, Temporalio.Api.Failure.V1.Failure failure, long completedId, List<Action> after)
    {
        var policy = run.Start.RetryPolicy;
        var delay = policy is null ? null : RetryPolicies.Delay(policy, run.Start.Attempt, failure);
        var expiration = run.Start.WorkflowExecutionExpirationTime?.ToDateTime();
        if (delay is { } d && (expiration is null || clock.GetUtcNow().UtcDateTime + d < expiration))
        {
            var next = RepeatRunAttributes(run);
            next.Attempt = run.Start.Attempt + 1;
            next.RetryPolicy = policy;
            next.Initiator = ContinueAsNewInitiator.Retry;
            next.CronSchedule = run.Start.CronSchedule;
            next.ContinuedFailure = failure;
            next.FirstWorkflowTaskBackoff = Duration.FromTimeSpan(d);
            var newRun = effects.CreateChainedRun(run, next, after);
            run.Add(EventType.WorkflowExecutionFailed, e => e.WorkflowExecutionFailedEventAttributes
                = new WorkflowExecutionFailedEventAttributes
                {
                    Failure = failure,
                    RetryState = RetryState.InProgress,
                    WorkflowTaskCompletedEventId = completedId,
                    NewExecutionRunId = newRun.RunId,
                });
            effects.PublishChainedRun(run, newRun);
            return;
        }

        var cronRun = NextCronRun(run, run.Start.LastCompletionResult, failure, after);
        run.Add(EventType.WorkflowExecutionFailed, e => e.WorkflowExecutionFailedEventAttributes
            = new WorkflowExecutionFailedEventAttributes
            {
                Failure = failure,
                RetryState = policy is null ? RetryState.RetryPolicyNotSet : RetryState.MaximumAttemptsReached,
                WorkflowTaskCompletedEventId = completedId,
                NewExecutionRunId = cronRun?.RunId ?? "",
            });
        PublishCronRun(run, cronRun);
    }

    private void ContinueAsNew(
        WorkflowRun run,
        ContinueAsNewWorkflowExecutionCommandAttributes c,
        long completedId,
        string identity,
        List<Action> after)
    {
        var next = NewRunAttributes(run, c.WorkflowType ?? run.Start.WorkflowType,
            string.IsNullOrEmpty(c.TaskQueue?.Name) ? run.Start.TaskQueue : c.TaskQueue,
            c.Input, c.WorkflowRunTimeout ?? run.Start.WorkflowRunTimeout, c.WorkflowTaskTimeout ?? run.Start.WorkflowTaskTimeout,
            c.Header, c.Memo ?? run.Memo, c.SearchAttributes ?? run.SearchAttributes);
        next.Initiator = ContinueAsNewInitiator.Workflow;
        next.RetryPolicy = c.RetryPolicy ?? run.Start.RetryPolicy;
        next.LastCompletionResult = c.LastCompletionResult;
        next.Identity = identity;
        next.FirstWorkflowTaskBackoff = c.BackoffStartInterval;
        var newRun = effects.CreateChainedRun(run, next, after);
        run.Add(EventType.WorkflowExecutionContinuedAsNew, e => e.WorkflowExecutionContinuedAsNewEventAttributes
            = new WorkflowExecutionContinuedAsNewEventAttributes
            {
                NewExecutionRunId = newRun.RunId,
                WorkflowType = next.WorkflowType,
                TaskQueue = next.TaskQueue,
                Input = next.Input,
                WorkflowRunTimeout = next.WorkflowRunTimeout,
                WorkflowTaskTimeout = next.WorkflowTaskTimeout,
                WorkflowTaskCompletedEventId = completedId,
                Initiator = ContinueAsNewInitiator.Workflow,
                BackoffStartInterval = next.FirstWorkflowTaskBackoff,
                Header = next.Header,
                Memo = next.Memo,
                SearchAttributes = next.SearchAttributes,
            });
        effects.PublishChainedRun(run, newRun);
    }

    private static WorkflowExecutionStartedEventAttributes NewRunAttributes(
        WorkflowRun run,
        WorkflowType type,
        Temporalio.Api.TaskQueue.V1.TaskQueue queue,
        Payloads? input,
        Duration? runTimeout,
        Duration? taskTimeout,
        Header? header,
        Memo? memo,
        SearchAttributes? searchAttributes) => new()
        {
            WorkflowType = type,
            TaskQueue = queue,
            Input = input,
            WorkflowExecutionTimeout = run.Start.WorkflowExecutionTimeout,
            WorkflowExecutionExpirationTime = run.Start.WorkflowExecutionExpirationTime,
            WorkflowRunTimeout = runTimeout,
            WorkflowTaskTimeout = taskTimeout,
            ContinuedExecutionRunId = run.RunId,
            OriginalExecutionRunId = run.Start.OriginalExecutionRunId,
            FirstExecutionRunId = run.Start.FirstExecutionRunId,
            ParentWorkflowNamespace = run.Start.ParentWorkflowNamespace,
            ParentWorkflowExecution = run.Start.ParentWorkflowExecution,
            ParentInitiatedEventId = run.Start.ParentInitiatedEventId,
            ParentWorkflowNamespaceId = run.Start.ParentWorkflowNamespaceId,
            RootWorkflowExecution = run.Start.RootWorkflowExecution,
            Priority = run.Start.Priority,
            Header = header,
            Memo = memo,
            SearchAttributes = searchAttributes,
            Attempt = 1,
        };

    private void StartChild(WorkflowRun run, Command command, long completedId, List<Action> after)
    {
        var c = command.StartChildWorkflowExecutionCommandAttributes;
        var ns = string.IsNullOrEmpty(c.Namespace) ? run.Namespace : c.Namespace;
        var initiated = run.Add(EventType.StartChildWorkflowExecutionInitiated, e =>
        {
            e.UserMetadata = command.UserMetadata;
            e.StartChildWorkflowExecutionInitiatedEventAttributes = new StartChildWorkflowExecutionInitiatedEventAttributes
            {
                Namespace = ns,
                WorkflowId = c.WorkflowId,
                WorkflowType = c.WorkflowType,
                TaskQueue = string.IsNullOrEmpty(c.TaskQueue?.Name) ? run.Start.TaskQueue : c.TaskQueue,
                Input = c.Input,
                WorkflowExecutionTimeout = c.WorkflowExecutionTimeout,
                WorkflowRunTimeout = c.WorkflowRunTimeout,
                WorkflowTaskTimeout = c.WorkflowTaskTimeout,
                ParentClosePolicy = c.ParentClosePolicy,
                Control = c.Control,
                WorkflowTaskCompletedEventId = completedId,
                WorkflowIdReusePolicy = c.WorkflowIdReusePolicy,
                RetryPolicy = c.RetryPolicy,
                CronSchedule = c.CronSchedule,
                Header = c.Header,
                Memo = c.Memo,
                SearchAttributes = c.SearchAttributes,
                Priority = c.Priority,
            };
        });
        var attributes = initiated.StartChildWorkflowExecutionInitiatedEventAttributes;
        after.Add(() => effects.LaunchChild(run, initiated.EventId, attributes));
    }

    private void SignalExternal(WorkflowRun run, SignalExternalWorkflowExecutionCommandAttributes c, long completedId, List<Action> after)
    {
        var ns = string.IsNullOrEmpty(c.Namespace) ? run.Namespace : c.Namespace;
        var initiated = run.Add(EventType.SignalExternalWorkflowExecutionInitiated, e => e
            .SignalExternalWorkflowExecutionInitiatedEventAttributes = new SignalExternalWorkflowExecutionInitiatedEventAttributes
            {
                Namespace = ns,
                WorkflowExecution = c.Execution,
                SignalName = c.SignalName,
                Input = c.Input,
                Control = c.Control,
                ChildWorkflowOnly = c.ChildWorkflowOnly,
                Header = c.Header,
                WorkflowTaskCompletedEventId = completedId,
            });
        after.Add(() => effects.DeliverExternal(run, initiated));
    }

    private void CancelExternal(
        WorkflowRun run,
        RequestCancelExternalWorkflowExecutionCommandAttributes c,
        long completedId,
        List<Action> after)
    {
        var ns = string.IsNullOrEmpty(c.Namespace) ? run.Namespace : c.Namespace;
        var initiated = run.Add(EventType.RequestCancelExternalWorkflowExecutionInitiated, e => e
            .RequestCancelExternalWorkflowExecutionInitiatedEventAttributes
            = new RequestCancelExternalWorkflowExecutionInitiatedEventAttributes
            {
                Namespace = ns,
                WorkflowExecution = new Temporalio.Api.Common.V1.WorkflowExecution { WorkflowId = c.WorkflowId, RunId = c.RunId },
                Control = c.Control,
                ChildWorkflowOnly = c.ChildWorkflowOnly,
                Reason = c.Reason,
                WorkflowTaskCompletedEventId = completedId,
            });
        after.Add(() => effects.DeliverExternal(run, initiated));
    }
}
