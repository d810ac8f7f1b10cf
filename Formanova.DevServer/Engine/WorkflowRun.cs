using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.Failure.V1;
using Temporalio.Api.History.V1;
using Temporalio.Api.Query.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

internal sealed class ActivityState(long scheduledEventId, ActivityTaskScheduledEventAttributes attributes, DateTime scheduledTime)
{
    public long ScheduledEventId { get; } = scheduledEventId;
    public ActivityTaskScheduledEventAttributes Attributes { get; } = attributes;
    public DateTime ScheduledTime { get; } = scheduledTime;
    public int Attempt { get; set; } = 1;
    public DateTime CurrentAttemptScheduledTime { get; set; } = scheduledTime;
    public bool Started { get; set; }
    public DateTime StartedTime { get; set; }
    public string StartedIdentity { get; set; } = "";
    public DateTime LastHeartbeat { get; set; }
    public Payloads? HeartbeatDetails { get; set; }
    public Failure? LastFailure { get; set; }
    public bool CancelRequested { get; set; }
    // Set once a terminal event is written or buffered so late duplicates are rejected.
    public bool Closing { get; set; }
    public int DispatchSeq { get; set; }
}

/// <summary>
/// Activity state the history does not carry (it writes ActivityTaskStarted only with the outcome): a started
/// attempt, or with <see cref="HeartbeatDetails"/> the latest heartbeat details.
/// </summary>
internal sealed record ActivityRecord(long ScheduledEventId, int Attempt, Payloads? HeartbeatDetails = null);

internal sealed record TimerState(long StartedEventId, DateTime FireTime);

internal sealed class ChildState(long initiatedEventId, StartChildWorkflowExecutionInitiatedEventAttributes attributes)
{
    public long InitiatedEventId { get; } = initiatedEventId;
    public StartChildWorkflowExecutionInitiatedEventAttributes Attributes { get; } = attributes;
    public long StartedEventId { get; set; }
    public string? RunId { get; set; }
}

internal sealed class QueryTask(WorkflowRun run, WorkflowQuery query)
{
    public string Id { get; } = Guid.NewGuid().ToString("N");
    public WorkflowRun Run { get; } = run;
    public WorkflowQuery Query { get; } = query;
    public TaskCompletionSource<RespondQueryTaskCompletedRequest> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public int DispatchSeq { get; set; }
    public bool Started { get; set; }
}

/// <summary>
/// Mutable state of one run. Everything durable is derived from <see cref="Apply"/> over the history, so the
/// live path and recovery share one code path; the rest (attempt counters, stickiness) is soft state.
/// All access happens under <see cref="Gate"/>.
/// </summary>
internal sealed class WorkflowRun(string ns, string workflowId, string runId, string requestId, TimeProvider clock)
{
    public Lock Gate { get; } = new();
    public string Namespace { get; } = ns;
    public string WorkflowId { get; } = workflowId;
    public string RunId { get; } = runId;
    public string RequestId { get; } = requestId;
    public List<HistoryEvent> History { get; } = [];
    public WorkflowExecutionStartedEventAttributes Start { get; private set; } = new();
    public WorkflowExecutionStatus Status { get; private set; } = WorkflowExecutionStatus.Running;
    public DateTime StartTime { get; private set; }
    public DateTime? CloseTime { get; private set; }
    public bool IsRunning => Status == WorkflowExecutionStatus.Running;
    public long NextEventId => History.Count + 1;
    // Kept as events are added so workflow tasks can report it without walking the history each time.
    public long HistorySizeBytes { get; private set; }
    public Memo Memo { get; private set; } = new();
    public SearchAttributes SearchAttributes { get; private set; } = new();
    public string? NewRunId { get; private set; }
    public WorkflowRun? NextRun { get; set; }
    public bool CancelRequested { get; private set; }
    public HistoryEvent? CloseEvent { get; private set; }

    // Workflow task.
    public long WtScheduledId { get; set; }
    public long WtStartedId { get; set; }
    public int WtAttempt { get; set; } = 1;
    public bool WtPending => WtScheduledId != 0 || WtTransientScheduled;
    public bool WtStarted => WtStartedId != 0;
    public bool WtTransientScheduled { get; set; }
    public DateTime WtScheduledTime { get; set; }
    public int WtDispatchSeq { get; set; }
    public long PreviousStartedEventId { get; private set; }
    public long LastCompletedWtId { get; private set; }
    public string? StickyQueue { get; set; }
    public TimeSpan StickyTimeout { get; set; }
    public List<Action> Buffered { get; } = [];

    public Dictionary<long, ActivityState> Activities { get; } = [];
    public Dictionary<string, TimerState> Timers { get; } = [];
    public Dictionary<long, ChildState> Children { get; } = [];
    public Dictionary<long, HistoryEvent> PendingExternal { get; } = [];
    public List<QueryTask> PendingQueries { get; } = [];

    /// <summary>Queries handed to the worker with the started workflow task, answered in its completion.</summary>
    public List<QueryTask> AttachedQueries { get; } = [];

    public List<HistoryEvent> Unpersisted { get; } = [];
    public List<ActivityRecord> UnpersistedActivities { get; } = [];
    public bool Persisted { get; set; }
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes the next time an event is appended; used by long-polling history readers.</summary>
    public Task Changed => _changed.Task;

    public void NotifyChanged()
    {
        var previous = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        previous.TrySetResult();
    }

    public HistoryEvent Add(EventType type, Action<HistoryEvent> fill)
    {
        var e = new HistoryEvent
        {
            EventId = NextEventId,
            EventType = type,
            EventTime = Timestamp.FromDateTime(clock.GetUtcNow().UtcDateTime),
            TaskId = NextEventId,
        };
        fill(e);
        History.Add(e);
        HistorySizeBytes += e.CalculateSize();
        Unpersisted.Add(e);
        Apply(e);
        return e;
    }

    public void Replay(HistoryEvent e)
    {
        History.Add(e);
        HistorySizeBytes += e.CalculateSize();
        Apply(e);
    }

    private void Apply(HistoryEvent e)
    {
        var time = e.EventTime.ToDateTime();
        switch (e.EventType)
        {
            case EventType.WorkflowExecutionStarted:
                Start = e.WorkflowExecutionStartedEventAttributes;
                StartTime = time;
                Memo = Start.Memo ?? new Memo();
                SearchAttributes = Start.SearchAttributes ?? new SearchAttributes();
                break;
            case EventType.WorkflowTaskScheduled:
                WtScheduledId = e.EventId;
                WtStartedId = 0;
                WtScheduledTime = time;
                WtAttempt = e.WorkflowTaskScheduledEventAttributes.Attempt;
                break;
            case EventType.WorkflowTaskStarted:
                WtStartedId = e.EventId;
                break;
            case EventType.WorkflowTaskCompleted:
                PreviousStartedEventId = e.WorkflowTaskCompletedEventAttributes.StartedEventId;
                LastCompletedWtId = e.EventId;
                WtScheduledId = 0;
                WtStartedId = 0;
                WtAttempt = 1;
                break;
            case EventType.WorkflowTaskFailed:
            case EventType.WorkflowTaskTimedOut:
                WtScheduledId = 0;
                WtStartedId = 0;
                WtAttempt++;
                break;
            case EventType.ActivityTaskScheduled:
                Activities[e.EventId] = new ActivityState(e.EventId, e.ActivityTaskScheduledEventAttributes, time);
                break;
            case EventType.ActivityTaskCancelRequested:
                if (Activities.TryGetValue(e.ActivityTaskCancelRequestedEventAttributes.ScheduledEventId, out var cancelled))
                {
                    cancelled.CancelRequested = true;
                }

                break;
            case EventType.ActivityTaskCompleted:
                Activities.Remove(e.ActivityTaskCompletedEventAttributes.ScheduledEventId);
                break;
            case EventType.ActivityTaskFailed:
                Activities.Remove(e.ActivityTaskFailedEventAttributes.ScheduledEventId);
                break;
            case EventType.ActivityTaskTimedOut:
                Activities.Remove(e.ActivityTaskTimedOutEventAttributes.ScheduledEventId);
                break;
            case EventType.ActivityTaskCanceled:
                Activities.Remove(e.ActivityTaskCanceledEventAttributes.ScheduledEventId);
                break;
            case EventType.TimerStarted:
                var timer = e.TimerStartedEventAttributes;
                Timers[timer.TimerId] = new TimerState(e.EventId, time + timer.StartToFireTimeout.ToTimeSpan());
                break;
            case EventType.TimerFired:
                Timers.Remove(e.TimerFiredEventAttributes.TimerId);
                break;
            case EventType.TimerCanceled:
                Timers.Remove(e.TimerCanceledEventAttributes.TimerId);
                break;
            case EventType.StartChildWorkflowExecutionInitiated:
                Children[e.EventId] = new ChildState(e.EventId, e.StartChildWorkflowExecutionInitiatedEventAttributes);
                break;
            case EventType.ChildWorkflowExecutionStarted:
                if (Children.TryGetValue(e.ChildWorkflowExecutionStartedEventAttributes.InitiatedEventId, out var child))
                {
                    child.StartedEventId = e.EventId;
                    child.RunId = e.ChildWorkflowExecutionStartedEventAttributes.WorkflowExecution.RunId;
                }

                break;
            case EventType.StartChildWorkflowExecutionFailed:
                Children.Remove(e.StartChildWorkflowExecutionFailedEventAttributes.InitiatedEventId);
                break;
            case EventType.ChildWorkflowExecutionCompleted:
                Children.Remove(e.ChildWorkflowExecutionCompletedEventAttributes.InitiatedEventId);
                break;
            case EventType.ChildWorkflowExecutionFailed:
                Children.Remove(e.ChildWorkflowExecutionFailedEventAttributes.InitiatedEventId);
                break;
            case EventType.ChildWorkflowExecutionCanceled:
                Children.Remove(e.ChildWorkflowExecutionCanceledEventAttributes.InitiatedEventId);
                break;
            case EventType.ChildWorkflowExecutionTerminated:
                Children.Remove(e.ChildWorkflowExecutionTerminatedEventAttributes.InitiatedEventId);
                break;
            case EventType.ChildWorkflowExecutionTimedOut:
                Children.Remove(e.ChildWorkflowExecutionTimedOutEventAttributes.InitiatedEventId);
                break;
            case EventType.SignalExternalWorkflowExecutionInitiated:
            case EventType.RequestCancelExternalWorkflowExecutionInitiated:
                PendingExternal[e.EventId] = e;
                break;
            case EventType.ExternalWorkflowExecutionSignaled:
                PendingExternal.Remove(e.ExternalWorkflowExecutionSignaledEventAttributes.InitiatedEventId);
                break;
            case EventType.SignalExternalWorkflowExecutionFailed:
                PendingExternal.Remove(e.SignalExternalWorkflowExecutionFailedEventAttributes.InitiatedEventId);
                break;
            case EventType.ExternalWorkflowExecutionCancelRequested:
                PendingExternal.Remove(e.ExternalWorkflowExecutionCancelRequestedEventAttributes.InitiatedEventId);
                break;
            case EventType.RequestCancelExternalWorkflowExecutionFailed:
                PendingExternal.Remove(e.RequestCancelExternalWorkflowExecutionFailedEventAttributes.InitiatedEventId);
                break;
            case EventType.WorkflowExecutionCancelRequested:
                CancelRequested = true;
                break;
            case EventType.UpsertWorkflowSearchAttributes:
                foreach (var (key, value) in e.UpsertWorkflowSearchAttributesEventAttributes.SearchAttributes.IndexedFields)
                {
                    SearchAttributes.IndexedFields[key] = value;
                }

                break;
            case EventType.WorkflowPropertiesModified:
                if (e.WorkflowPropertiesModifiedEventAttributes.UpsertedMemo is { } memo)
                {
                    foreach (var (key, value) in memo.Fields)
                    {
                        Memo.Fields[key] = value;
                    }
                }

                break;
            case EventType.WorkflowExecutionCompleted:
                Close(e, WorkflowExecutionStatus.Completed, e.WorkflowExecutionCompletedEventAttributes.NewExecutionRunId);
                break;
            case EventType.WorkflowExecutionFailed:
                Close(e, WorkflowExecutionStatus.Failed, e.WorkflowExecutionFailedEventAttributes.NewExecutionRunId);
                break;
            case EventType.WorkflowExecutionTimedOut:
                Close(e, WorkflowExecutionStatus.TimedOut, e.WorkflowExecutionTimedOutEventAttributes.NewExecutionRunId);
                break;
            case EventType.WorkflowExecutionCanceled:
                Close(e, WorkflowExecutionStatus.Canceled, null);
                break;
            case EventType.WorkflowExecutionTerminated:
                Close(e, WorkflowExecutionStatus.Terminated, null);
                break;
            case EventType.WorkflowExecutionContinuedAsNew:
                Close(e, WorkflowExecutionStatus.ContinuedAsNew, e.WorkflowExecutionContinuedAsNewEventAttributes.NewExecutionRunId);
                break;
        }
    }

    private void Close(HistoryEvent e, WorkflowExecutionStatus status, string? newRunId)
    {
        Status = status;
        CloseTime = e.EventTime.ToDateTime();
        CloseEvent = e;
        NewRunId = string.IsNullOrEmpty(newRunId) ? null : newRunId;
        WtScheduledId = 0;
        WtStartedId = 0;
        WtTransientScheduled = false;
        StickyQueue = null;
        Buffered.Clear();
    }

    public WorkflowExecution Execution => new() { WorkflowId = WorkflowId, RunId = RunId };

    public TimeSpan WorkflowTaskTimeout =>
        Start.WorkflowTaskTimeout is { } t && t.ToTimeSpan() > TimeSpan.Zero ? t.ToTimeSpan() : TimeSpan.FromSeconds(10);
}
