using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.Failure.V1;
using Temporalio.Api.History.V1;
using Temporalio.Api.Update.V1;

namespace Formanova.DevServer.Engine;

internal enum UpdateStage
{
    /// <summary>Known to the server only (in memory): waiting for a workflow task to carry it.</summary>
    Admitted,

    /// <summary>Handed to the worker with the workflow task in flight, not yet accepted or rejected.</summary>
    Sent,

    /// <summary>Accepted by the workflow: an UpdateAccepted event is in the history.</summary>
    Accepted,

    /// <summary>Outcome known: completed (UpdateCompleted event), rejected, or failed because the run closed.</summary>
    Completed,
}

/// <summary>The run continued as new (or was retried) before accepting the update: it is sent to the new run.</summary>
internal sealed class UpdateRunContinuedException() : Exception("The workflow continued as new before accepting the update.");

/// <summary>
/// One workflow update. Its stage changes under the run's gate; waiters outside the gate await
/// <see cref="Accepted"/> or <see cref="Completed"/>, which also complete (or fault) when the update is
/// aborted by the run closing.
/// </summary>
internal sealed class UpdateEntry(string id, Request? request, DateTime admittedTime)
{
    private readonly TaskCompletionSource _accepted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Id { get; } = id;
    public Request? Request { get; private set; } = request;
    public DateTime AdmittedTime { get; } = admittedTime;
    public UpdateStage Stage { get; private set; }
    public long AcceptedEventId { get; private set; }
    public Outcome? Outcome { get; private set; }

    /// <summary>Completes once the update is accepted, rejected or completed; faults when it is aborted before that.</summary>
    public Task Accepted => _accepted.Task;

    /// <summary>Completes once the outcome is known; faults when the update is aborted before it was accepted.</summary>
    public Task Completed => _completed.Task;

    public UpdateWorkflowExecutionLifecycleStage LifecycleStage => Stage switch
    {
        UpdateStage.Accepted => UpdateWorkflowExecutionLifecycleStage.Accepted,
        UpdateStage.Completed => UpdateWorkflowExecutionLifecycleStage.Completed,
        _ => UpdateWorkflowExecutionLifecycleStage.Admitted,
    };

    public void MarkSent() => Stage = UpdateStage.Sent;

    /// <summary>The task that carried it failed or timed out: the next attempt carries it again.</summary>
    public void ReturnToAdmitted()
    {
        if (Stage == UpdateStage.Sent)
        {
            Stage = UpdateStage.Admitted;
        }
    }

    public void Accept(long eventId, Request? request)
    {
        Stage = UpdateStage.Accepted;
        AcceptedEventId = eventId;
        Request ??= request;
        _accepted.TrySetResult();
    }

    public void Complete(Outcome outcome)
    {
        Stage = UpdateStage.Completed;
        Outcome = outcome;
        _accepted.TrySetResult();
        _completed.TrySetResult();
    }

    public void Abort(Exception error)
    {
        _accepted.TrySetException(error);
        _completed.TrySetException(error);
    }
}

/// <summary>
/// The updates of one run. Accepted and completed ones are rebuilt from their history events (<see cref="Apply"/>,
/// called from <see cref="WorkflowRun"/>'s Apply); admitted ones live only in memory, as on Temporal, so a
/// rejection leaves nothing behind.
/// </summary>
internal sealed class UpdateRegistry
{
    // Temporal's failures for an update that the run could not finish (service/history/workflow/update).
    private static readonly Failure AcceptedUpdateCompletedWorkflow = new()
    {
        Message = "Workflow Update failed because the Workflow completed before the Update completed.",
        Source = "Server",
        ApplicationFailureInfo = new ApplicationFailureInfo { Type = "AcceptedUpdateCompletedWorkflow", NonRetryable = true },
    };

    private static readonly Failure Unprocessed = new()
    {
        Message = "Workflow Update is rejected because it wasn't processed by worker. "
            + "Probably, Workflow Update is not supported by the worker.",
        Source = "Server",
        ApplicationFailureInfo = new ApplicationFailureInfo { Type = "UnprocessedUpdate", NonRetryable = true },
    };

    private readonly Dictionary<string, UpdateEntry> _updates = new(StringComparer.Ordinal);

    /// <summary>
    /// Non-zero while the pending workflow task is speculative: scheduled for updates only and not in the history
    /// (value: the next event id when it was scheduled). It is discarded if the worker only rejects.
    /// </summary>
    public long SpeculativeBase { get; set; }

    public UpdateEntry? Find(string id) => _updates.GetValueOrDefault(id);

    public UpdateEntry Admit(string id, Request request, DateTime now)
    {
        var entry = new UpdateEntry(id, request, now);
        _updates[id] = entry;
        return entry;
    }

    public bool HasUndelivered => _updates.Values.Any(u => u.Stage == UpdateStage.Admitted);

    /// <summary>Updates to hand out with a workflow task, oldest first, marked as sent.</summary>
    public List<UpdateEntry> TakeForDelivery()
    {
        var deliver = _updates.Values.Where(u => u.Stage is UpdateStage.Admitted or UpdateStage.Sent && u.Request is not null)
            .OrderBy(u => u.AdmittedTime).ToList();
        foreach (var update in deliver)
        {
            update.MarkSent();
        }

        return deliver;
    }

    public void ReturnSent()
    {
        foreach (var update in _updates.Values)
        {
            update.ReturnToAdmitted();
        }
    }

    public void Reject(UpdateEntry entry, Failure failure)
    {
        _updates.Remove(entry.Id);
        entry.Complete(new Outcome { Failure = failure });
    }

    /// <summary>Sent with the task that just completed but neither accepted nor rejected: rejected, as Temporal does.</summary>
    public void RejectUnprocessed()
    {
        foreach (var entry in _updates.Values.Where(u => u.Stage == UpdateStage.Sent).ToList())
        {
            Reject(entry, Unprocessed);
        }
    }

    /// <summary>
    /// The run closed. Updates not yet accepted are aborted (sent on to the next run when it continued); accepted
    /// ones fail with Temporal's AcceptedUpdateCompletedWorkflow failure, which later requests still read.
    /// </summary>
    public void AbortAll(bool continuing)
    {
        SpeculativeBase = 0;
        foreach (var entry in _updates.Values.ToList())
        {
            switch (entry.Stage)
            {
                case UpdateStage.Admitted:
                case UpdateStage.Sent:
                    _updates.Remove(entry.Id);
                    entry.Abort(continuing
                        ? new UpdateRunContinuedException()
                        : Errors.NotFound("workflow update was aborted by closing workflow"));
                    break;
                case UpdateStage.Accepted:
                    entry.Complete(new Outcome { Failure = AcceptedUpdateCompletedWorkflow });
                    break;
            }
        }
    }

    /// <summary>Rebuilds accepted and completed updates from the history, live and on recovery alike.</summary>
    public void Apply(HistoryEvent e)
    {
        switch (e.EventType)
        {
            case EventType.WorkflowExecutionUpdateAdmitted:
                var admitted = e.WorkflowExecutionUpdateAdmittedEventAttributes.Request;
                if (admitted?.Meta?.UpdateId is { Length: > 0 } admittedId && !_updates.ContainsKey(admittedId))
                {
                    _updates[admittedId] = new UpdateEntry(admittedId, admitted, e.EventTime.ToDateTime());
                }

                break;
            case EventType.WorkflowExecutionUpdateAccepted:
                var accepted = e.WorkflowExecutionUpdateAcceptedEventAttributes;
                Entry(accepted.ProtocolInstanceId, accepted.AcceptedRequest, e.EventTime).Accept(e.EventId, accepted.AcceptedRequest);
                break;
            case EventType.WorkflowExecutionUpdateCompleted:
                var completed = e.WorkflowExecutionUpdateCompletedEventAttributes;
                Entry(completed.Meta.UpdateId, null, e.EventTime).Complete(completed.Outcome);
                break;
        }
    }

    private UpdateEntry Entry(string id, Request? request, Timestamp time)
    {
        if (!_updates.TryGetValue(id, out var entry))
        {
            entry = new UpdateEntry(id, request, time.ToDateTime());
            _updates[id] = entry;
        }

        return entry;
    }
}
