using System.Collections.Concurrent;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.History.V1;
using Temporalio.Api.TaskQueue.V1;

namespace Formanova.DevServer.Engine;

internal sealed record NamespaceEntry(string Name, string Id, TimeSpan Retention, string Description);

/// <summary>Item on a workflow task queue: a workflow task, or a query for a run without a task in flight.</summary>
internal sealed record WorkflowTaskRef(WorkflowRun Run, int Seq, bool Sticky, QueryTask? Query);

internal sealed record ActivityTaskRef(WorkflowRun Run, long ScheduledEventId, int Seq);

/// <summary>All runs that share a workflow id; <see cref="Gate"/> serialises starts for that id.</summary>
internal sealed class WorkflowSlot
{
    public Lock Gate { get; } = new();
#pragma warning disable SA1401 // volatile: read without the gate by lookups that tolerate a stale run
    public volatile WorkflowRun? Current;
#pragma warning restore SA1401
}

internal sealed partial record StartParams(
    string Namespace,
    string WorkflowId,
    WorkflowExecutionStartedEventAttributes Attributes,
    string RequestId,
    WorkflowIdReusePolicy ReusePolicy,
    WorkflowIdConflictPolicy ConflictPolicy,
    HistoryEvent? SignalEvent = null,
    Action<WorkflowRun, List<Action>>? OnCreated = null);

internal sealed record StartOutcome(WorkflowRun Run, bool Started);

/// <summary>
/// Workflow state machine and matching; activity tasks are in <see cref="ActivityDispatcher"/> and command
/// application in <see cref="CommandApplier"/>. Lock order (docs/devserver.md, "Concurrency"):
/// <list type="number">
/// <item>a workflow id's <see cref="WorkflowSlot.Gate"/> before any run's gate (a start checks, terminates and
/// creates runs under it);</item>
/// <item>run gates one at a time, with one exception: a run's gate before its successor's, the run that
/// continue-as-new or a workflow retry creates (<see cref="CreateChainedRun"/>, <see cref="PersistLocked"/>).
/// Successors are always newer runs, so the order is by run creation and has no cycle;</item>
/// <item>the scheduler, task queue and event store locks last: they are leaves and call nothing that locks.</item>
/// </list>
/// Other cross-run work (children, external signals, parent notification) runs after the run's lock is released.
/// </summary>
internal sealed partial class WorkflowEngine : IRunHost, IDisposable
{
    private readonly DevServerOptions _options;
    private readonly ILogger<WorkflowEngine> _logger;
    private readonly IEventStore _store;
    private readonly Func<string, List<HistoryEvent>>? _reloadHistory;
    private readonly Scheduler _scheduler;
    private readonly ConcurrentDictionary<string, NamespaceEntry> _namespaces = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, WorkflowRun> _runs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Ns, string WorkflowId), WorkflowSlot> _slots = new();
    private readonly ConcurrentDictionary<(string Ns, string Queue), TaskQueue<WorkflowTaskRef>> _workflowQueues = new();
    private readonly ConcurrentDictionary<string, QueryTask> _queries = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _shutdown = new();
    private readonly TimeProvider _clock;
    private readonly ActivityDispatcher _activities;
    private readonly CommandApplier _commands;
    private readonly WorkerPolls _workerPolls = new();

    public WorkflowEngine(DevServerOptions options, ILogger<WorkflowEngine> logger)
    {
        _options = options;
        _logger = logger;
        _clock = options.TimeProvider;
        _store = EventStore.Open(options.StoragePath);
        // Only a durable log can give an evicted history back; :memory: keeps every run's events in memory.
        _reloadHistory = _store is EventStore ? _store.LoadHistory : null;
        _scheduler = new Scheduler(_clock, e => _logger.LogError(e, "Scheduled work failed"));
        _activities = new ActivityDispatcher(this, _scheduler, _clock);
        _commands = new CommandApplier(_activities, this, _clock);
        SearchAttributes = new SearchAttributeRegistry(_store);
        NexusEndpoints = new NexusEndpointRegistry(_store, _clock, name => _namespaces.ContainsKey(name));
    }

    /// <summary>Activity tasks: polled, heartbeated and completed through the RPCs that name an activity.</summary>
    public ActivityDispatcher Activities => _activities;

    /// <summary>Workflow time: event times and deadlines all read this clock (<see cref="DevServerOptions.TimeProvider"/>).</summary>
    private DateTime Now => _clock.GetUtcNow().UtcDateTime;

    public CancellationToken ShutdownToken => _shutdown.Token;

    public IEnumerable<NamespaceEntry> Namespaces => _namespaces.Values;

    public IEnumerable<WorkflowRun> Runs => _runs.Values;

    public void Shutdown() => _shutdown.Cancel();

    public void Dispose()
    {
        _shutdown.Cancel();
        _scheduler.Dispose();
        _store.Dispose();
        _shutdown.Dispose();
    }

    // ---- Locking and persistence ----

    /// <summary>
    /// Runs <paramref name="body"/> under the run lock, persists the events it appended in one transaction,
    /// wakes history long-polls, then runs the follow-up actions outside the lock.
    /// </summary>
    private T Locked<T>(WorkflowRun run, Func<List<Action>, T> body)
    {
        var after = new List<Action>();
        T result;
        lock (run.Gate)
        {
            try
            {
                result = body(after);
            }
            finally
            {
                PersistLocked(run);
            }
        }

        foreach (var action in after)
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Follow-up of workflow {WorkflowId} failed", run.WorkflowId);
            }
        }

        return result;
    }

    private void Locked(WorkflowRun run, Action<List<Action>> body) => Locked(run, after =>
    {
        body(after);
        return true;
    });

    T IRunHost.Locked<T>(WorkflowRun run, Func<List<Action>, T> body) => Locked(run, body);

    void IRunHost.Locked(WorkflowRun run, Action<List<Action>> body) => Locked(run, body);

    void IRunHost.WriteOrBuffer(WorkflowRun run, Action write, List<Action> after) => WriteOrBuffer(run, write, after);

    private void PersistLocked(WorkflowRun run)
    {
        // A run created by continue-as-new or retry is committed with the event that closes its predecessor,
        // so a crash never leaves one without the other.
        if (run.NextRun is { Persisted: false } next)
        {
            // Lock order: predecessor before successor (see the class summary). The successor is already
            // published, so a signal or a poll may hold its gate for a moment; none of them waits for this run.
            lock (next.Gate)
            {
                _store.Append((run, run.Unpersisted, !run.Persisted), (next, next.Unpersisted, true));
                next.MarkPersisted();
            }

            run.MarkPersisted();
            EvictIfClosed(run);
            return;
        }

        if (run.Unpersisted.Count == 0 && run.UnpersistedActivities.Count == 0)
        {
            return;
        }

        _store.Append((run, run.Unpersisted, !run.Persisted));
        run.MarkPersisted();
        EvictIfClosed(run);
    }

    /// <summary>
    /// A closed run whose events are all in the durable log keeps only its summary in memory (docs/devserver.md,
    /// "Storage and durability"): a retained sync prediction's history was about 36 KB of the host's memory.
    /// </summary>
    private void EvictIfClosed(WorkflowRun run)
    {
        if (_reloadHistory is not null && !run.IsRunning)
        {
            run.EvictHistory(_reloadHistory);
        }
    }

    // ---- Namespaces ----

    public NamespaceEntry RequireNamespace(string name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw Errors.InvalidArgument("Namespace is not set on request.");
        }

        return _namespaces.TryGetValue(name, out var entry) ? entry : throw Errors.NamespaceNotFound(name);
    }

    public NamespaceEntry? FindNamespaceById(string id) => _namespaces.Values.FirstOrDefault(n => n.Id == id);

    public NamespaceEntry RegisterNamespace(string name, TimeSpan retention, string description, bool failIfExists)
    {
        var entry = new NamespaceEntry(name, NamespaceId(name), retention, description);
        if (!_namespaces.TryAdd(name, entry))
        {
            if (failIfExists)
            {
                throw Errors.NamespaceAlreadyExists(name);
            }

            return _namespaces[name];
        }

        _store.SaveNamespace(name, retention, description);
        return entry;
    }

    // Stable across restarts so ids handed to clients stay valid.
    private static string NamespaceId(string name) =>
        new Guid(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(name)).AsSpan(0, 16)).ToString();

    // ---- Lookup ----

    public WorkflowRun FindRun(string ns, WorkflowExecution? execution)
    {
        if (execution is null || string.IsNullOrEmpty(execution.WorkflowId))
        {
            throw Errors.InvalidArgument("WorkflowId is not set on request.");
        }

        if (!string.IsNullOrEmpty(execution.RunId))
        {
            if (!Guid.TryParse(execution.RunId, out _))
            {
                throw Errors.InvalidArgument("Invalid RunId.");
            }

            if (_runs.TryGetValue(execution.RunId, out var run) && run.Namespace == ns && run.WorkflowId == execution.WorkflowId)
            {
                return run;
            }
        }
        else if (_slots.TryGetValue((ns, execution.WorkflowId), out var slot) && slot.Current is { } current)
        {
            return current;
        }

        throw Errors.NotFound($"Workflow execution not found for workflow ID \"{execution.WorkflowId}\" and run ID \"{execution.RunId}\"");
    }

    private static WorkflowRun Latest(WorkflowRun run)
    {
        while (run.NextRun is { } next)
        {
            run = next;
        }

        return run;
    }

    private TaskQueue<WorkflowTaskRef> WorkflowQueue(string ns, string name) =>
        _workflowQueues.GetOrAdd((ns, name), _ => new TaskQueue<WorkflowTaskRef>());

    /// <summary>Cancels a long poll shortly before the caller's deadline so it gets an empty answer, not an error.</summary>
    public CancellationTokenSource LongPollToken(global::Grpc.Core.ServerCallContext context, CancellationToken workerShutdown = default)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, _shutdown.Token, workerShutdown);
        // The caller's gRPC deadline is wall-clock time, not workflow time, so this one reads the system clock.
        var remaining = context.Deadline == DateTime.MaxValue
            ? TimeSpan.FromSeconds(60)
            : context.Deadline - TimeProvider.System.GetUtcNow().UtcDateTime - TimeSpan.FromMilliseconds(500);
        cts.CancelAfter(remaining < TimeSpan.Zero ? TimeSpan.Zero : remaining);
        return cts;
    }

    /// <summary>
    /// Takes queued tasks until one can still be started (stale ones are skipped); an empty response when
    /// the caller's deadline is near, which the SDK treats as "poll again".
    /// </summary>
    private async Task<TResponse> LongPollAsync<TItem, TResponse>(
        TaskQueue<TItem> queue,
        global::Grpc.Core.ServerCallContext context,
        Func<TItem, TResponse?> tryStart,
        string workerInstanceKey)
        where TItem : class
        where TResponse : class, new()
    {
        using var poll = _workerPolls.Enter(workerInstanceKey);
        using var cts = LongPollToken(context, poll.Token);
        while (true)
        {
            var item = await queue.TakeAsync(cts.Token);
            if (item is null)
            {
                return new TResponse();
            }

            if (tryStart(item) is { } response)
            {
                return response;
            }
        }
    }

    // ---- Starting runs ----

    public StartOutcome StartWorkflow(StartParams p)
    {
        var key = (p.Namespace, p.WorkflowId);
        while (true)
        {
            // Retention may drop the slot while we wait for its gate; then start over on the live one, after
            // releasing the dead one, so no two slot gates are ever held together.
            if (StartInSlot(_slots.GetOrAdd(key, _ => new WorkflowSlot()), key, p) is { } outcome)
            {
                return outcome;
            }
        }
    }

    private StartOutcome? StartInSlot(WorkflowSlot slot, (string Ns, string WorkflowId) key, StartParams p)
    {
        WorkflowRun? toTerminate = null;
        lock (slot.Gate)
        {
            if (!_slots.TryGetValue(key, out var live) || live != slot)
            {
                return null;
            }

            if (slot.Current is { } existing)
            {
                var current = Latest(existing);
                // Lock order: the slot gate before a run's gate.
                lock (current.Gate)
                {
                    if (current.RequestId == p.RequestId && !string.IsNullOrEmpty(p.RequestId))
                    {
                        return new StartOutcome(current, false);
                    }

                    if (current.IsRunning)
                    {
                        switch (p.ConflictPolicy)
                        {
                            case WorkflowIdConflictPolicy.UseExisting:
                                return new StartOutcome(current, false);
                            case WorkflowIdConflictPolicy.TerminateExisting:
                                toTerminate = current;
                                break;
                            default:
                                if (p.ReusePolicy == WorkflowIdReusePolicy.TerminateIfRunning)
                                {
                                    toTerminate = current;
                                    break;
                                }

                                throw Errors.AlreadyStarted(
                                    $"Workflow execution is already running. WorkflowId: {p.WorkflowId}, RunId: {current.RunId}.",
                                    current.RequestId,
                                    current.RunId);
                        }
                    }
                    else
                    {
                        var failedOnly = current.Status is WorkflowExecutionStatus.Failed or WorkflowExecutionStatus.Canceled
                            or WorkflowExecutionStatus.Terminated or WorkflowExecutionStatus.TimedOut;
                        if (p.ReusePolicy == WorkflowIdReusePolicy.RejectDuplicate
                            || (p.ReusePolicy == WorkflowIdReusePolicy.AllowDuplicateFailedOnly && !failedOnly))
                        {
                            throw Errors.AlreadyStarted(
                                "Workflow execution already finished and its id reuse policy forbids a new run. "
                                + $"WorkflowId: {p.WorkflowId}, RunId: {current.RunId}.",
                                current.RequestId,
                                current.RunId);
                        }
                    }
                }
            }

            if (toTerminate is not null)
            {
                Terminate(toTerminate, "Terminated by start with TerminateExisting/TerminateIfRunning policy", null, "server");
            }

            var runId = Guid.NewGuid().ToString();
            var run = new WorkflowRun(p.Namespace, p.WorkflowId, runId, p.RequestId, _clock);
            var attributes = p.Attributes;
            if (string.IsNullOrEmpty(attributes.OriginalExecutionRunId))
            {
                attributes.OriginalExecutionRunId = runId;
            }

            if (string.IsNullOrEmpty(attributes.FirstExecutionRunId))
            {
                attributes.FirstExecutionRunId = runId;
            }

            Locked(run, after =>
            {
                InitRun(run, attributes, p.SignalEvent, after, p.UserMetadata);
                p.OnCreated?.Invoke(run, after);
            });
            _runs[runId] = run;
            slot.Current = run;
            return new StartOutcome(run, true);
        }
    }

    private void InitRun(
        WorkflowRun run,
        WorkflowExecutionStartedEventAttributes attributes,
        HistoryEvent? signal,
        List<Action> after,
        Temporalio.Api.Sdk.V1.UserMetadata? metadata = null)
    {
        attributes.WorkflowId = run.WorkflowId;
        if (attributes.WorkflowTaskTimeout is null || attributes.WorkflowTaskTimeout.ToTimeSpan() <= TimeSpan.Zero)
        {
            attributes.WorkflowTaskTimeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(10));
        }

        if (attributes.Attempt == 0)
        {
            attributes.Attempt = 1;
        }

        var executionTimeout = attributes.WorkflowExecutionTimeout?.ToTimeSpan() ?? TimeSpan.Zero;
        if (executionTimeout > TimeSpan.Zero && attributes.WorkflowExecutionExpirationTime is null)
        {
            attributes.WorkflowExecutionExpirationTime = Timestamp.FromDateTime(Now + executionTimeout);
        }

        CronSchedules.DelayFirstRun(attributes, Now);
        run.Add(EventType.WorkflowExecutionStarted, e =>
        {
            e.WorkflowExecutionStartedEventAttributes = attributes;
            e.UserMetadata = metadata;
        });
        if (signal is not null)
        {
            run.Add(
                EventType.WorkflowExecutionSignaled,
                e => e.WorkflowExecutionSignaledEventAttributes = signal.WorkflowExecutionSignaledEventAttributes);
        }

        ArmRunTimeout(run);
        var backoff = attributes.FirstWorkflowTaskBackoff?.ToTimeSpan() ?? TimeSpan.Zero;
        if (backoff > TimeSpan.Zero)
        {
            _scheduler.At(run.StartTime + backoff, () => Locked(run, later => ScheduleWorkflowTask(run, later)));
        }
        else
        {
            ScheduleWorkflowTask(run, after);
        }
    }

    private void ArmRunTimeout(WorkflowRun run)
    {
        DateTime? due = null;
        var runTimeout = run.Start.WorkflowRunTimeout?.ToTimeSpan() ?? TimeSpan.Zero;
        if (runTimeout > TimeSpan.Zero)
        {
            due = run.StartTime + runTimeout;
        }

        if (run.Start.WorkflowExecutionExpirationTime is { } expiration && (due is null || expiration.ToDateTime() < due))
        {
            due = expiration.ToDateTime();
        }

        if (due is { } at)
        {
            _scheduler.At(at, run, r => Locked(r, after =>
            {
                if (!r.IsRunning)
                {
                    return;
                }

                r.Add(EventType.WorkflowExecutionTimedOut, e => e.WorkflowExecutionTimedOutEventAttributes
                    = new WorkflowExecutionTimedOutEventAttributes { RetryState = RetryState.Timeout });
                OnClosed(r, after);
            }));
        }
    }

    // ---- Closing ----

    public void Terminate(WorkflowRun run, string reason, Payloads? details, string identity) => Locked(run, after =>
    {
        if (!run.IsRunning)
        {
            throw Errors.FailedPrecondition("Workflow execution already completed.");
        }

        run.Add(EventType.WorkflowExecutionTerminated, e => e.WorkflowExecutionTerminatedEventAttributes
            = new WorkflowExecutionTerminatedEventAttributes
            {
                Reason = reason,
                Details = details,
                Identity = identity,
            });
        OnClosed(run, after);
    });

    /// <summary>Everything that follows a run closing: parent notification, parent-close policy, queries, retention.</summary>
    private void OnClosed(WorkflowRun run, List<Action> after)
    {
        AbortUpdates(run);
        HoldAttachedQueries(run);
        foreach (var query in run.PendingQueries)
        {
            after.Add(() => DispatchQuery(query));
        }

        run.PendingQueries.Clear();
        if (run.Status != WorkflowExecutionStatus.ContinuedAsNew && run.Start.ParentWorkflowExecution is { } parent)
        {
            var closeEvent = run.CloseEvent!;
            var child = run.Execution;
            var firstRunId = run.Start.FirstExecutionRunId;
            var type = run.Start.WorkflowType;
            after.Add(
                () => NotifyParent(parent.RunId, run.Start.ParentInitiatedEventId, child, firstRunId, type, run.Namespace, closeEvent));
        }

        foreach (var pending in run.Children.Values.Where(c => c.RunId is not null))
        {
            var target = new WorkflowExecution { WorkflowId = pending.Attributes.WorkflowId };
            var ns = string.IsNullOrEmpty(pending.Attributes.Namespace) ? run.Namespace : pending.Attributes.Namespace;
            switch (pending.Attributes.ParentClosePolicy)
            {
                case ParentClosePolicy.Abandon:
                    break;
                case ParentClosePolicy.RequestCancel:
                    after.Add(() => TryRun(() => RequestCancel(FindRun(ns, target), "parent closed", "server")));
                    break;
                default:
                    after.Add(() => TryRun(() => Terminate(FindRun(ns, target), "by parent close policy", null, "server")));
                    break;
            }
        }

        after.Add(() => NotifySchedules(run));
        var retention = _namespaces.TryGetValue(run.Namespace, out var nsEntry) ? nsEntry.Retention : _options.DefaultNamespaceRetention;
        _scheduler.At(run.CloseTime!.Value + retention, () => DeleteIfExpired(run));
    }

    private void TryRun(Action action)
    {
        try
        {
            action();
        }
        catch (global::Grpc.Core.RpcException e)
        {
            _logger.LogDebug("Cross-workflow action skipped: {Message}", e.Status.Detail);
        }
    }

    /// <summary>Retention: a closed run and its events disappear once the namespace retention has passed.</summary>
    private void DeleteIfExpired(WorkflowRun run)
    {
        var retention = _namespaces.TryGetValue(run.Namespace, out var ns) ? ns.Retention : _options.DefaultNamespaceRetention;
        if (run.CloseTime is not { } closed || closed + retention > Now)
        {
            return;
        }

        if (_slots.TryGetValue((run.Namespace, run.WorkflowId), out var slot))
        {
            lock (slot.Gate)
            {
                if (slot.Current == run)
                {
                    slot.Current = null;
                    _slots.TryRemove(new KeyValuePair<(string, string), WorkflowSlot>((run.Namespace, run.WorkflowId), slot));
                }
            }
        }

        _runs.TryRemove(run.RunId, out _);
        _store.DeleteRun(run.RunId);
    }

    // ---- Signals and cancellation ----

    public void Signal(WorkflowRun run, string name, Payloads? input, Header? header, string identity) => Locked(run, after =>
    {
        if (!run.IsRunning)
        {
            throw Errors.FailedPrecondition("Workflow execution already completed.");
        }

        WriteOrBuffer(run, () => run.Add(EventType.WorkflowExecutionSignaled, e => e.WorkflowExecutionSignaledEventAttributes
            = new WorkflowExecutionSignaledEventAttributes
            {
                SignalName = name,
                Input = input,
                Header = header,
                Identity = identity,
            }), after);
    });

    public void RequestCancel(
        WorkflowRun run,
        string reason,
        string identity,
        long externalInitiatedId = 0,
        WorkflowExecution? external = null) => Locked(run, after =>
    {
        if (!run.IsRunning)
        {
            throw Errors.FailedPrecondition("Workflow execution already completed.");
        }

        if (run.CancelRequested)
        {
            return;
        }

        WriteOrBuffer(run, () =>
        {
            if (!run.CancelRequested)
            {
                run.Add(EventType.WorkflowExecutionCancelRequested, e => e.WorkflowExecutionCancelRequestedEventAttributes
                    = new WorkflowExecutionCancelRequestedEventAttributes
                    {
                        Cause = reason,
                        Identity = identity,
                        ExternalInitiatedEventId = externalInitiatedId,
                        ExternalWorkflowExecution = external,
                    });
            }
        }, after);
    });

    /// <summary>
    /// Events from outside the workflow task (signals, activity results, timers) wait while a task is running
    /// and are written after its WorkflowTaskCompleted, as the SDK replays them in that order.
    /// </summary>
    private void WriteOrBuffer(WorkflowRun run, Action write, List<Action> after)
    {
        if (!run.IsRunning)
        {
            return;
        }

        if (run.WtStarted)
        {
            run.Buffer(write);
            return;
        }

        write();
        ScheduleWorkflowTask(run, after);
    }

    // ---- Timers ----

    // A cancelled timer's deadline stays queued until its fire time; it must not keep the run alive that long.
    public void ArmTimer(WorkflowRun run, string timerId, TimerState timer) =>
        _scheduler.At(timer.FireTime, run, r => Locked(r, after =>
        {
            if (!r.Timers.TryGetValue(timerId, out var current) || current.StartedEventId != timer.StartedEventId)
            {
                return;
            }

            WriteOrBuffer(r, () =>
            {
                if (r.Timers.TryGetValue(timerId, out var still) && still.StartedEventId == timer.StartedEventId)
                {
                    r.Add(EventType.TimerFired, e => e.TimerFiredEventAttributes = new TimerFiredEventAttributes
                    {
                        TimerId = timerId,
                        StartedEventId = timer.StartedEventId
                    });
                }
            }, after);
        }));

    // ---- Task tokens ----

    internal static ByteString Token(params object[] parts) => ByteString.CopyFromUtf8(string.Join('\n', parts));

    internal static string[] ParseToken(ByteString token, char kind, int parts)
    {
        if (token.IsEmpty)
        {
            throw Errors.InvalidArgument("Task token is not set on request.");
        }

        string[] fields;
        try
        {
            fields = token.ToStringUtf8().Split('\n');
        }
        catch (Exception e) when (e is DecoderFallbackException or ArgumentException)
        {
            throw Errors.InvalidArgument("Invalid task token.");
        }

        if (fields.Length != parts || fields[0].Length != 1 || fields[0][0] != kind)
        {
            throw Errors.InvalidArgument("Invalid task token.");
        }

        return fields;
    }

    internal WorkflowRun RunFromToken(string ns, string runId)
    {
        if (!_runs.TryGetValue(runId, out var run) || run.Namespace != ns)
        {
            throw Errors.NotFound("Workflow execution for the task token not found.");
        }

        return run;
    }

    internal static long ParseLong(string value) =>
        long.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v)
            ? v
            : throw Errors.InvalidArgument("Invalid task token.");

    private static TaskQueue NormalQueue(WorkflowRun run) => new() { Name = run.Start.TaskQueue.Name, Kind = TaskQueueKind.Normal };
}
