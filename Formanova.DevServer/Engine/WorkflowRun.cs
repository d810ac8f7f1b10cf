using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.Failure.V1;
using Temporalio.Api.History.V1;
using Temporalio.Api.Query.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

internal sealed partial class ActivityState(long scheduledEventId, ActivityTaskScheduledEventAttributes attributes, DateTime scheduledTime)
{
    public long ScheduledEventId { get; } = scheduledEventId;
    public ActivityTaskScheduledEventAttributes Attributes { get; } = attributes;
    public DateTime ScheduledTime { get; } = scheduledTime;
    public int Attempt { get; private set; } = 1;
    public DateTime CurrentAttemptScheduledTime { get; private set; } = scheduledTime;
    public bool Started { get; private set; }
    public DateTime StartedTime { get; private set; }
    public string StartedIdentity { get; private set; } = "";
    public DateTime LastHeartbeat { get; private set; }
    public Payloads? HeartbeatDetails { get; private set; }
    public Failure? LastFailure { get; private set; }
    public bool CancelRequested { get; private set; }
    // Set once a terminal event is written or buffered so late duplicates are rejected.
    public bool Closing { get; private set; }
    public int DispatchSeq { get; private set; }

    /// <summary>Queues the current attempt once more; copies queued before become stale (sequence check).</summary>
    public int NextDispatch() => ++DispatchSeq;

    public void Start(DateTime now, string identity)
    {
        Started = true;
        StartedTime = now;
        LastHeartbeat = now;
        StartedIdentity = identity;
    }

    /// <summary>After a restart: the attempt that was running counts as started, to be timed out.</summary>
    public void ResumeStarted(int attempt, DateTime now)
    {
        Attempt = attempt;
        Started = true;
        StartedTime = now;
    }

    public void RecordHeartbeat(DateTime now, Payloads? details)
    {
        LastHeartbeat = now;
        if (details is not null)
        {
            HeartbeatDetails = details;
        }
    }

    /// <summary>Details to hand the next attempt: the last heartbeat's, or those the failing attempt reported.</summary>
    public void KeepHeartbeatDetails(Payloads? details) => HeartbeatDetails = details;

    /// <summary>The next attempt is due at <paramref name="due"/>; returns its dispatch sequence.</summary>
    public int ScheduleRetry(Failure failure, DateTime due)
    {
        Attempt++;
        Started = false;
        LastFailure = failure;
        CurrentAttemptScheduledTime = due;
        return ++DispatchSeq;
    }

    public void MarkClosing() => Closing = true;

    public void MarkCancelRequested() => CancelRequested = true;
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
    public long StartedEventId { get; private set; }
    public string? RunId { get; private set; }

    public void MarkStarted(long startedEventId, string runId)
    {
        StartedEventId = startedEventId;
        RunId = runId;
    }
}

internal sealed class QueryTask(WorkflowRun run, WorkflowQuery query)
{
    public string Id { get; } = Guid.NewGuid().ToString("N");
    public WorkflowRun Run { get; } = run;
    public WorkflowQuery Query { get; } = query;
    public TaskCompletionSource<RespondQueryTaskCompletedRequest> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public int DispatchSeq { get; private set; }
    public bool Started { get; private set; }

    public int NextDispatch() => ++DispatchSeq;

    public void MarkStarted() => Started = true;

    /// <summary>Handed out with a task that did not answer it: it waits to be handed out again.</summary>
    public void Release() => Started = false;
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
    private List<HistoryEvent>? _history = [];
    private int _evictedCount;
    private Func<string, List<HistoryEvent>>? _reload;

    /// <summary>
    /// The run's events. A closed run whose events are all in a durable log keeps none in memory
    /// (<see cref="EvictHistory"/>): each read of this property then reads them from the log again, so read it once.
    /// </summary>
    public IReadOnlyList<HistoryEvent> History => _history ?? _reload!(RunId);

    /// <summary>The number of events, without reading an evicted history back.</summary>
    public int HistoryCount => _history?.Count ?? _evictedCount;

    /// <summary>Whether the events are only in the log (<see cref="EvictHistory"/>).</summary>
    public bool HistoryEvicted => _history is null;

    /// <summary>The first event (WorkflowExecutionStarted), kept when the rest is evicted.</summary>
    public HistoryEvent? FirstEvent { get; private set; }
    public WorkflowExecutionStartedEventAttributes Start { get; private set; } = new();
    public WorkflowExecutionStatus Status { get; private set; } = WorkflowExecutionStatus.Running;
    public DateTime StartTime { get; private set; }
    public DateTime? CloseTime { get; private set; }
    public bool IsRunning => Status == WorkflowExecutionStatus.Running;
    public long NextEventId => HistoryCount + 1;
    // Kept as events are added so workflow tasks can report it without walking the history each time.
    public long HistorySizeBytes { get; private set; }
    public Memo Memo { get; private set; } = new();
    public SearchAttributes SearchAttributes { get; private set; } = new();
    public string? NewRunId { get; private set; }
    public WorkflowRun? NextRun { get; private set; }
    public bool CancelRequested { get; private set; }
    public HistoryEvent? CloseEvent { get; private set; }

    // Workflow task: set by Apply from the history, and by the transitions below for what the history does not
    // hold (a transient retry, the dispatch sequence, stickiness).
    public long WtScheduledId { get; private set; }
    public long WtStartedId { get; private set; }
    public int WtAttempt { get; private set; } = 1;
    public bool WtPending => WtScheduledId != 0 || WtTransientScheduled;
    public bool WtStarted => WtStartedId != 0;
    public bool WtTransientScheduled { get; private set; }
    public DateTime WtScheduledTime { get; private set; }
    public int WtDispatchSeq { get; private set; }
    public long PreviousStartedEventId { get; private set; }
    public long LastCompletedWtId { get; private set; }
    public string? StickyQueue { get; private set; }
    public TimeSpan StickyTimeout { get; private set; }
    private readonly List<Action> _buffered = [];

    public Dictionary<long, ActivityState> Activities { get; } = [];
    public Dictionary<string, TimerState> Timers { get; } = [];
    public Dictionary<long, ChildState> Children { get; } = [];
    public Dictionary<long, HistoryEvent> PendingExternal { get; } = [];
    public List<QueryTask> PendingQueries { get; } = [];

    /// <summary>Workflow updates: accepted and completed ones from the history, admitted ones in memory.</summary>
    public UpdateRegistry Updates { get; } = new();

    /// <summary>Queries handed to the worker with the started workflow task, answered in its completion.</summary>
    public List<QueryTask> AttachedQueries { get; } = [];

    public List<HistoryEvent> Unpersisted { get; } = [];
    public List<ActivityRecord> UnpersistedActivities { get; } = [];
    public bool Persisted { get; private set; }
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
        Append(e);
        Unpersisted.Add(e);
        Apply(e);
        return e;
    }

    public void Replay(HistoryEvent e)
    {
        Append(e);
        Apply(e);
    }

    /// <summary>
    /// Drops the events of a closed run that are all in the durable log, <paramref name="reload"/> reading them back on
    /// demand: a retained run then holds its summary (status, times, start attributes, close event, update outcomes)
    /// and not its whole history, which was most of the memory a retained run cost.
    /// </summary>
    public void EvictHistory(Func<string, List<HistoryEvent>> reload)
    {
        if (IsRunning || _history is null || Unpersisted.Count > 0 || UnpersistedActivities.Count > 0)
        {
            return;
        }

        _evictedCount = _history.Count;
        _reload = reload;
        _history = null;
    }

    private void Append(HistoryEvent e)
    {
        // Nothing is appended to a closed run; should that change, its history comes back before it grows.
        _history ??= _reload!(RunId);
        _history.Add(e);
        FirstEvent ??= e;
        HistorySizeBytes += e.CalculateSize();
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
                // A copy: upserts change the run's attributes, never the started event in its history.
                SearchAttributes = Start.SearchAttributes?.Clone() ?? new SearchAttributes();
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
                    cancelled.MarkCancelRequested();
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
                    child.MarkStarted(e.EventId, e.ChildWorkflowExecutionStartedEventAttributes.WorkflowExecution.RunId);
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
                    if (SearchAttributeValues.IsRemoval(value))
                    {
                        SearchAttributes.IndexedFields.Remove(key);
                    }
                    else
                    {
                        SearchAttributes.IndexedFields[key] = value;
                    }
                }

                break;
            case EventType.WorkflowPropertiesModified:
                if (e.WorkflowPropertiesModifiedEventAttributes.UpsertedMemo is { } memo)
                {
                    RunDetails.UpsertMemo(Memo, memo);
                }

                break;
            case EventType.WorkflowExecutionUpdateAdmitted:
            case EventType.WorkflowExecutionUpdateAccepted:
            case EventType.WorkflowExecutionUpdateCompleted:
                Updates.Apply(e);
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
        _buffered.Clear();
    }

    // ---- Workflow-task transitions the history does not record ----

    /// <summary>A retry of a failing task stays out of the history until an attempt succeeds (a transient task).</summary>
    public void ScheduleTransientWorkflowTask(DateTime now)
    {
        WtTransientScheduled = true;
        WtScheduledTime = now;
    }

    /// <summary>Hands the pending task out once more; copies queued before become stale (sequence check).</summary>
    public int NextWorkflowTaskDispatch() => ++WtDispatchSeq;

    /// <summary>The transient task is started with event ids it would get if it were written now.</summary>
    public void StartTransientWorkflowTask(long scheduledId, long startedId)
    {
        WtScheduledId = scheduledId;
        WtStartedId = startedId;
    }

    /// <summary>Drops the transient task, before its events are written for real or after it failed again.</summary>
    public void ClearTransientWorkflowTask()
    {
        WtTransientScheduled = false;
        WtScheduledId = 0;
        WtStartedId = 0;
    }

    /// <summary>A transient attempt failed: the next one is scheduled with the attempt counter raised.</summary>
    public void FailTransientWorkflowTask()
    {
        ClearTransientWorkflowTask();
        WtAttempt++;
    }

    /// <summary>A failure the workflow did not cause (UnhandledCommand): the next task is a first attempt.</summary>
    public void ResetWorkflowTaskAttempt() => WtAttempt = 1;

    public bool IsCurrentWorkflowTask(long scheduledId, long startedId, int seq) =>
        IsRunning && WtScheduledId == scheduledId && WtStartedId == startedId && WtDispatchSeq == seq;

    /// <summary>The worker that completed the task keeps the run in its cache and polls this queue for the next one.</summary>
    public void StickTo(string queue, TimeSpan scheduleToStartTimeout)
    {
        StickyQueue = queue;
        StickyTimeout = scheduleToStartTimeout;
    }

    public void Unstick() => StickyQueue = null;

    // ---- Events that wait for the running workflow task ----

    public bool HasBuffered => _buffered.Count > 0;

    public void Buffer(Action write) => _buffered.Add(write);

    /// <summary>Writes the events that waited for the task; true when any event was written.</summary>
    public bool FlushBuffered()
    {
        if (_buffered.Count == 0)
        {
            return false;
        }

        var writes = _buffered.ToList();
        _buffered.Clear();
        var before = NextEventId;
        foreach (var write in writes)
        {
            if (IsRunning)
            {
                write();
            }
        }

        return NextEventId != before;
    }

    // ---- Chaining and persistence ----

    /// <summary>The run continue-as-new or a retry created; it is persisted with this run's close event.</summary>
    public void LinkNextRun(WorkflowRun next) => NextRun = next;

    /// <summary>Everything appended so far is in the store (or came from it, on recovery).</summary>
    public void MarkPersisted()
    {
        Persisted = true;
        UnpersistedActivities.Clear();
        if (Unpersisted.Count > 0)
        {
            Unpersisted.Clear();
            NotifyChanged();
        }
    }

    public WorkflowExecution Execution => new() { WorkflowId = WorkflowId, RunId = RunId };

    public TimeSpan WorkflowTaskTimeout =>
        Start.WorkflowTaskTimeout is { } t && t.ToTimeSpan() > TimeSpan.Zero ? t.ToTimeSpan() : TimeSpan.FromSeconds(10);
}
