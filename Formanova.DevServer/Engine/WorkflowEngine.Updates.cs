using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Command.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.History.V1;
using Temporalio.Api.Protocol.V1;
using Temporalio.Api.Update.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

/// <summary>
/// Workflow updates, with Temporal's semantics: an update is admitted in memory, carried to the worker as a
/// protocol message with a workflow task, and written to the history only once the workflow accepts it
/// (WorkflowExecutionUpdateAccepted) and completes it (WorkflowExecutionUpdateCompleted). A rejection writes nothing:
/// the task that carried it, if it was scheduled for the update alone (speculative), is discarded as well.
/// </summary>
internal sealed partial class WorkflowEngine
{
    // Temporal's LongPollExpirationInterval: past it an update call answers with the stage reached so far.
    private static readonly TimeSpan UpdateSoftTimeout = TimeSpan.FromSeconds(20);

    // Temporal fails an update fast when the workflow task keeps failing (failUpdateWorkflowTaskAttemptCount).
    private const int FailUpdateWorkflowTaskAttempt = 3;

    /// <summary>
    /// Admits the update on <paramref name="run"/> (or finds the one with the same id) and schedules a task to carry
    /// it when none is pending. On a closed run only an update it already knows is returned.
    /// </summary>
    public UpdateEntry AdmitUpdate(WorkflowRun run, Request request, string firstExecutionRunId) => Locked(run, after =>
    {
        if (!string.IsNullOrEmpty(firstExecutionRunId) && run.Start.FirstExecutionRunId != firstExecutionRunId)
        {
            throw Errors.NotFound("workflow execution not found");
        }

        return AdmitUpdateLocked(run, request, after);
    });

    /// <summary>Update-with-start: admitted under the gate of the run being created, before its first task is handed out.</summary>
    public UpdateEntry AdmitUpdateOnNewRun(WorkflowRun run, Request request, List<Action> after) => AdmitUpdateLocked(run, request, after);

    /// <summary>Whether the run knows this update id (in flight, completed, or failed by the run closing).</summary>
    public static bool HasUpdate(WorkflowRun run, string updateId)
    {
        lock (run.Gate)
        {
            if (!run.IsRunning)
            {
                run.Updates.AbortAll(run.NewRunId is not null);
            }

            return run.Updates.Find(updateId) is not null;
        }
    }

    private UpdateEntry AdmitUpdateLocked(WorkflowRun run, Request request, List<Action> after)
    {
        var id = request.Meta.UpdateId;
        if (!run.IsRunning)
        {
            run.Updates.AbortAll(run.NewRunId is not null);
            return run.Updates.Find(id) ?? throw Errors.NotFound("workflow execution already completed");
        }

        if (run.Updates.Find(id) is { } existing)
        {
            return existing;
        }

        if (run.WtAttempt >= FailUpdateWorkflowTaskAttempt)
        {
            throw Errors.WorkflowNotReady("Unable to perform workflow execution update due to Workflow Task in failed state.");
        }

        var entry = run.Updates.Admit(id, request, Now);
        // A task scheduled and not started carries it; one running now is followed by a task for it when it completes.
        if (!run.WtPending)
        {
            ScheduleSpeculativeTask(run, after);
        }

        return entry;
    }

    /// <summary>A task for updates only: out of the history (like a transient task) until it turns out to matter.</summary>
    private void ScheduleSpeculativeTask(WorkflowRun run, List<Action> after)
    {
        run.ScheduleTransientWorkflowTask(Now);
        run.Updates.SpeculativeBase = run.NextEventId;
        DispatchWorkflowTask(run, after);
    }

    /// <summary>The update's stage and outcome, read under the run's gate so a stage is reported only once persisted.</summary>
    public static (UpdateWorkflowExecutionLifecycleStage Stage, Outcome? Outcome) UpdateStatus(WorkflowRun run, UpdateEntry entry)
    {
        lock (run.Gate)
        {
            return (entry.LifecycleStage, entry.Outcome);
        }
    }

    /// <summary>
    /// Waits until the update reaches <paramref name="stage"/>. Past Temporal's long-poll interval it answers with
    /// the stage reached (the SDK asks again); a caller deadline that comes sooner ends the call with that deadline.
    /// </summary>
    public async Task<(UpdateWorkflowExecutionLifecycleStage Stage, Outcome? Outcome)> WaitForUpdateAsync(
        WorkflowRun run,
        UpdateEntry entry,
        UpdateWorkflowExecutionLifecycleStage stage,
        global::Grpc.Core.ServerCallContext context)
    {
        var target = stage switch
        {
            UpdateWorkflowExecutionLifecycleStage.Completed => entry.Completed,
            UpdateWorkflowExecutionLifecycleStage.Accepted => entry.Accepted,
            _ => null,
        };
        if (target is not null)
        {
            using var soft = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, ShutdownToken);
            // The caller's deadline is wall-clock time, so this reads the system clock, as the long polls do.
            var remaining = context.Deadline == DateTime.MaxValue
                ? TimeSpan.MaxValue
                : context.Deadline - TimeProvider.System.GetUtcNow().UtcDateTime;
            if (remaining > UpdateSoftTimeout)
            {
                soft.CancelAfter(UpdateSoftTimeout);
            }

            try
            {
                await target.WaitAsync(soft.Token);
            }
            catch (OperationCanceledException) when (!context.CancellationToken.IsCancellationRequested)
            {
                // Soft timeout: report the stage reached so far.
            }
        }

        if (entry.Completed.IsFaulted && entry.Outcome is null)
        {
            throw entry.Completed.Exception!.InnerException!;
        }

        return UpdateStatus(run, entry);
    }

    /// <summary>The update with this id on the run, for PollWorkflowExecutionUpdate.</summary>
    public static UpdateEntry FindUpdate(WorkflowRun run, string updateId)
    {
        lock (run.Gate)
        {
            if (!run.IsRunning)
            {
                run.Updates.AbortAll(run.NewRunId is not null);
            }

            return run.Updates.Find(updateId) ?? throw Errors.NotFound($"update \"{updateId}\" not found");
        }
    }

    // ---- Hooks from the workflow-task path ----

    /// <summary>Adds the updates waiting for this task to its poll response as protocol messages.</summary>
    private static void AttachUpdates(WorkflowRun run, PollWorkflowTaskQueueResponse response, long startedId)
    {
        // Something else was written since the speculative task was scheduled: it has to stay in the history.
        if (run.Updates.SpeculativeBase != 0 && run.Updates.SpeculativeBase != startedId - 1)
        {
            run.Updates.SpeculativeBase = 0;
        }

        foreach (var update in run.Updates.TakeForDelivery())
        {
            response.Messages.Add(new Message
            {
                Id = update.Id + "/request",
                ProtocolInstanceId = update.Id,
                // As Temporal does: the worker applies the request after the event before WorkflowTaskStarted.
                EventId = startedId - 1,
                Body = Any.Pack(update.Request),
            });
        }
    }

    /// <summary>The task failed or timed out: a speculative one is written after all, and its updates go with the next attempt.</summary>
    private static void OnWorkflowTaskFailing(WorkflowRun run, string identity)
    {
        if (run.Updates.SpeculativeBase != 0)
        {
            run.Updates.SpeculativeBase = 0;
            MaterializeTransient(run, identity);
        }

        run.Updates.ReturnSent();
    }

    /// <summary>Checks the update messages of a completion before anything is written.</summary>
    private static (WorkflowTaskFailedCause Cause, string Message)? ValidateUpdateMessages(
        WorkflowRun run,
        RespondWorkflowTaskCompletedRequest request)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var message in request.Messages)
        {
            if (!ids.Add(message.Id))
            {
                return (WorkflowTaskFailedCause.BadUpdateWorkflowExecutionMessage, $"Duplicate message id {message.Id}.");
            }

            var known = run.Updates.Find(message.ProtocolInstanceId);
            var valid = message.Body switch
            {
                { } b when b.Is(Acceptance.Descriptor) => known is { Stage: UpdateStage.Admitted or UpdateStage.Sent }
                    || (known is null && b.Unpack<Acceptance>().AcceptedRequest is not null),
                { } b when b.Is(Rejection.Descriptor) => known is null or { Stage: UpdateStage.Admitted or UpdateStage.Sent },
                { } b when b.Is(Response.Descriptor) => known is { Stage: UpdateStage.Accepted }
                    || request.Messages.Any(m => m.ProtocolInstanceId == message.ProtocolInstanceId && m.Body.Is(Acceptance.Descriptor)),
                _ => false,
            };
            if (!valid)
            {
                return (
                    WorkflowTaskFailedCause.BadUpdateWorkflowExecutionMessage,
                    $"Invalid message {message.Id} for update {message.ProtocolInstanceId}.");
            }
        }

        foreach (var command in request.Commands.Where(c => c.CommandType == CommandType.ProtocolMessage))
        {
            if (command.ProtocolMessageCommandAttributes is not { } attributes || !ids.Contains(attributes.MessageId))
            {
                return (WorkflowTaskFailedCause.BadUpdateWorkflowExecutionMessage, "ProtocolMessage command names no message.");
            }
        }

        return null;
    }

    /// <summary>
    /// A speculative task answered with rejections only (no commands, nothing new in the history): it is dropped as
    /// if it never ran, and the worker is told to roll back to the last task it completed (reset_history_event_id).
    /// </summary>
    private bool TryDiscardSpeculativeTask(
        WorkflowRun run,
        RespondWorkflowTaskCompletedRequest request,
        RespondWorkflowTaskCompletedResponse response,
        List<Action> after)
    {
        var discardable = run.Updates.SpeculativeBase != 0
            && !run.HasBuffered
            && request.Commands.Count == 0
            && !request.ForceCreateNewWorkflowTask
            && request.Messages.All(m => m.Body.Is(Rejection.Descriptor))
            && (request.Capabilities?.DiscardSpeculativeWorkflowTaskWithEvents == true || run.HistoryCount <= run.LastCompletedWtId);
        if (!discardable)
        {
            return false;
        }

        run.Updates.SpeculativeBase = 0;
        run.ClearTransientWorkflowTask();
        ApplyUpdateMessages(run, request.Messages);
        run.Updates.RejectUnprocessed();
        response.ResetHistoryEventId = run.PreviousStartedEventId;
        if (request.StickyAttributes?.WorkerTaskQueue is { Name.Length: > 0 } sticky)
        {
            var timeout = request.StickyAttributes.ScheduleToStartTimeout?.ToTimeSpan() ?? TimeSpan.Zero;
            run.StickTo(sticky.Name, timeout > TimeSpan.Zero ? timeout : TimeSpan.FromSeconds(5));
        }

        ScheduleTaskForUpdates(run, after);
        if (!run.WtPending)
        {
            ReleaseQueries(run, after);
        }

        return true;
    }

    /// <summary>Applies the messages a ProtocolMessage command names, in command order.</summary>
    private static void ApplyProtocolMessageCommand(WorkflowRun run, RespondWorkflowTaskCompletedRequest request, Command command)
    {
        var id = command.ProtocolMessageCommandAttributes.MessageId;
        ApplyUpdateMessages(run, request.Messages.Where(m => m.Id == id));
    }

    /// <summary>After the commands: messages no command named (rejections), then updates the worker ignored.</summary>
    private static void FinishUpdateMessages(WorkflowRun run, RespondWorkflowTaskCompletedRequest request)
    {
        if (!run.IsRunning)
        {
            return;
        }

        var named = new HashSet<string>(
            request.Commands.Where(c => c.CommandType == CommandType.ProtocolMessage)
                .Select(c => c.ProtocolMessageCommandAttributes.MessageId),
            StringComparer.Ordinal);
        ApplyUpdateMessages(run, request.Messages.Where(m => !named.Contains(m.Id)));
        run.Updates.RejectUnprocessed();
    }

    private static void ApplyUpdateMessages(WorkflowRun run, IEnumerable<Message> messages)
    {
        foreach (var message in messages)
        {
            var id = message.ProtocolInstanceId;
            if (message.Body.Is(Acceptance.Descriptor))
            {
                var acceptance = message.Body.Unpack<Acceptance>();
                var entry = run.Updates.Find(id);
                if (entry is { Stage: UpdateStage.Accepted or UpdateStage.Completed })
                {
                    continue;
                }

                run.Add(EventType.WorkflowExecutionUpdateAccepted, e => e.WorkflowExecutionUpdateAcceptedEventAttributes
                    = new WorkflowExecutionUpdateAcceptedEventAttributes
                    {
                        ProtocolInstanceId = id,
                        AcceptedRequestMessageId = acceptance.AcceptedRequestMessageId,
                        AcceptedRequestSequencingEventId = acceptance.AcceptedRequestSequencingEventId,
                        AcceptedRequest = entry?.Request ?? acceptance.AcceptedRequest,
                    });
            }
            else if (message.Body.Is(Response.Descriptor))
            {
                var reply = message.Body.Unpack<Response>();
                if (run.Updates.Find(id) is not { Stage: UpdateStage.Accepted } accepted)
                {
                    continue;
                }

                run.Add(EventType.WorkflowExecutionUpdateCompleted, e => e.WorkflowExecutionUpdateCompletedEventAttributes
                    = new WorkflowExecutionUpdateCompletedEventAttributes
                    {
                        Meta = reply.Meta ?? new Meta { UpdateId = id },
                        AcceptedEventId = accepted.AcceptedEventId,
                        Outcome = reply.Outcome,
                    });
            }
            else if (message.Body.Is(Rejection.Descriptor)
                && run.Updates.Find(id) is { Stage: UpdateStage.Admitted or UpdateStage.Sent } rejected)
            {
                run.Updates.Reject(rejected, message.Body.Unpack<Rejection>().Failure);
            }
        }
    }

    /// <summary>Updates that arrived while the task ran get a task of their own once it is done.</summary>
    private void ScheduleTaskForUpdates(WorkflowRun run, List<Action> after)
    {
        if (run.IsRunning && !run.WtPending && run.Updates.HasUndelivered)
        {
            ScheduleSpeculativeTask(run, after);
        }
    }

    /// <summary>The run closed: pending updates are aborted or failed (<see cref="UpdateRegistry.AbortAll"/>).</summary>
    private static void AbortUpdates(WorkflowRun run) => run.Updates.AbortAll(run.NewRunId is not null);
}
