using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Formanova.DevServer.Engine;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.History.V1;
using Temporalio.Api.Schedule.V1;

namespace Formanova.DevServer.Schedules;

/// <summary>
/// Schedules: each one computes its action times from its spec, wakes on the server's scheduler (so on its
/// <see cref="TimeProvider"/>) at the next action's actual time, and starts workflows under its overlap policy.
/// Lock order: a schedule's <see cref="ScheduleEntry.Gate"/> comes before every engine lock (it starts, cancels and
/// terminates runs under it); the engine tells a schedule that its run closed only after releasing the run's lock.
/// </summary>
internal sealed class ScheduleManager(
    WorkflowEngine engine,
    Scheduler scheduler,
    IScheduleStore store,
    TimeProvider clock,
    ILogger logger)
{
    public const int RecentActionCount = 10;
    public const int FutureActionCount = 10;
    private const int MaxBuffer = 1000;

    // Temporal's default catch-up window; it also never goes below 10 seconds.
    private static readonly TimeSpan DefaultCatchupWindow = TimeSpan.FromDays(365);
    private static readonly TimeSpan MinCatchupWindow = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<(string Ns, string Id), ScheduleEntry> _schedules = new();

    // Which schedule started the running workflow with this id, so its close reaches the schedule.
    private readonly ConcurrentDictionary<(string Ns, string WorkflowId), ScheduleEntry> _byWorkflow = new();

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    public IEnumerable<ScheduleEntry> In(string ns) =>
        _schedules.Values.Where(e => e.Namespace == ns).OrderBy(e => e.Id, StringComparer.Ordinal);

    public ScheduleEntry Get(string ns, string id) =>
        _schedules.TryGetValue((ns, id), out var entry) && !entry.Deleted
            ? entry
            : throw Errors.NotFound($"Schedule \"{id}\" not found.");

    // ---- Create, update, patch, delete ----

    public ScheduleEntry Create(
        string ns,
        string id,
        Schedule schedule,
        SchedulePatch? initialPatch,
        Memo? memo,
        SearchAttributes? searchAttributes,
        string requestId)
    {
        if (string.IsNullOrWhiteSpace(id))
        {
            throw Errors.InvalidArgument("ScheduleId is not set on request.");
        }

        Validate(schedule);
        var entry = new ScheduleEntry(ns, id)
        {
            RequestId = requestId,
            Memo = memo,
            SearchAttributes = searchAttributes,
            Cursor = Now,
        };
        Apply(entry, schedule);
        entry.Info.CreateTime = CompiledSpec.Stamp(Now);
        if (!_schedules.TryAdd((ns, id), entry))
        {
            var existing = _schedules[(ns, id)];
            if (!string.IsNullOrEmpty(requestId) && existing.RequestId == requestId)
            {
                return existing;
            }

            // A schedule is a workflow on a real cluster, so a duplicate id fails as a duplicate workflow start.
            throw Errors.AlreadyStarted($"Schedule \"{id}\" already exists.", existing.RequestId, "");
        }

        lock (entry.Gate)
        {
            if (initialPatch is not null)
            {
                PatchLocked(entry, initialPatch);
            }

            Process(entry);
        }

        return entry;
    }

    public void Update(string ns, string id, Schedule schedule, ByteString conflictToken, SearchAttributes? searchAttributes)
    {
        Validate(schedule);
        var entry = Get(ns, id);
        lock (entry.Gate)
        {
            if (!conflictToken.IsEmpty && !conflictToken.Equals(entry.Token))
            {
                throw Errors.FailedPrecondition("mismatched conflict token");
            }

            // Action times up to now belong to the old spec; the new one takes over from here.
            Process(entry);
            Apply(entry, schedule);
            if (searchAttributes is not null)
            {
                entry.SearchAttributes = searchAttributes;
            }

            entry.Cursor = Now > entry.Cursor ? Now : entry.Cursor;
            entry.ConflictToken++;
            entry.Info.UpdateTime = CompiledSpec.Stamp(Now);
            Process(entry);
        }
    }

    public void Patch(string ns, string id, SchedulePatch patch)
    {
        var entry = Get(ns, id);
        lock (entry.Gate)
        {
            PatchLocked(entry, patch);
            Process(entry);
        }
    }

    public void Delete(string ns, string id)
    {
        var entry = Get(ns, id);
        lock (entry.Gate)
        {
            entry.Deleted = true;
            entry.WakeSeq++;
            _schedules.TryRemove((ns, id), out _);
            foreach (var running in entry.Info.RunningWorkflows)
            {
                _byWorkflow.TryRemove(new KeyValuePair<(string, string), ScheduleEntry>((ns, running.WorkflowId), entry));
            }

            store.DeleteSchedule(ns, id);
        }
    }

    private static void Validate(Schedule? schedule)
    {
        var start = schedule?.Action?.StartWorkflow ?? throw Errors.InvalidArgument("A schedule needs a start-workflow action.");

        if (string.IsNullOrWhiteSpace(start.WorkflowId) || string.IsNullOrWhiteSpace(start.WorkflowType?.Name)
            || string.IsNullOrWhiteSpace(start.TaskQueue?.Name))
        {
            throw Errors.InvalidArgument("A schedule's action needs a workflow id, a workflow type and a task queue.");
        }
    }

    private static void Apply(ScheduleEntry entry, Schedule schedule)
    {
        schedule.Spec ??= new ScheduleSpec();
        schedule.Policies ??= new SchedulePolicies();
        schedule.State ??= new ScheduleState();
        var spec = new CompiledSpec(schedule.Spec, entry.Namespace + "/" + entry.Id);
        schedule.Spec = spec.Canonical;
        if (schedule.Policies.OverlapPolicy == ScheduleOverlapPolicy.Unspecified)
        {
            schedule.Policies.OverlapPolicy = ScheduleOverlapPolicy.Skip;
        }

        schedule.Policies.CatchupWindow ??= Duration.FromTimeSpan(DefaultCatchupWindow);
        entry.Spec = spec;
        entry.Schedule = schedule;
    }

    private void PatchLocked(ScheduleEntry entry, SchedulePatch patch)
    {
        var state = entry.Schedule.State;
        if (!string.IsNullOrEmpty(patch.Pause))
        {
            state.Paused = true;
            state.Notes = patch.Pause;
        }

        if (!string.IsNullOrEmpty(patch.Unpause))
        {
            state.Paused = false;
            state.Notes = patch.Unpause;
        }

        var now = Now;
        if (patch.TriggerImmediately is { } trigger)
        {
            entry.Buffer.Add(new BufferedStart(now, now, trigger.OverlapPolicy, Manual: true));
        }

        foreach (var backfill in patch.BackfillRequest)
        {
            // Both ends are included; a backfill ignores the catch-up window and the pause.
            var from = backfill.StartTime.ToDateTime().AddTicks(-1);
            foreach (var t in entry.Spec.Between(from, backfill.EndTime.ToDateTime()))
            {
                entry.Buffer.Add(new BufferedStart(t.Nominal, t.Nominal, backfill.OverlapPolicy, Manual: true));
            }
        }
    }

    // ---- Firing ----

    /// <summary>
    /// Takes every action time that is due (actual time reached), drops those older than the catch-up window
    /// (counted as missed) and those while paused or out of actions, runs the buffer and arms the next wake-up.
    /// </summary>
    private void Process(ScheduleEntry entry)
    {
        if (entry.Deleted)
        {
            return;
        }

        var now = Now;
        var catchup = entry.Schedule.Policies.CatchupWindow.ToTimeSpan();
        catchup = catchup < MinCatchupWindow ? MinCatchupWindow : catchup;
        var state = entry.Schedule.State;
        while (entry.Spec.Next(entry.Cursor) is { } t && t.Actual <= now)
        {
            entry.Cursor = t.Nominal;
            if (now - t.Actual > catchup)
            {
                entry.Info.MissedCatchupWindow++;
                continue;
            }

            if (state.Paused || (state.LimitedActions && state.RemainingActions <= 0))
            {
                continue;
            }

            if (state.LimitedActions)
            {
                state.RemainingActions--;
            }

            entry.Buffer.Add(new BufferedStart(t.Nominal, t.Actual, ScheduleOverlapPolicy.Unspecified, Manual: false));
        }

        Drain(entry);
        Save(entry);
        Arm(entry);
    }

    private void Arm(ScheduleEntry entry)
    {
        var seq = ++entry.WakeSeq;
        if (entry.Spec.Next(entry.Cursor) is { } next)
        {
            scheduler.At(next.Actual, () =>
            {
                lock (entry.Gate)
                {
                    if (entry.WakeSeq == seq)
                    {
                        Process(entry);
                    }
                }
            });
        }
    }

    /// <summary>Starts what the overlap policies allow; the rest stays buffered until the running workflow closes.</summary>
    private void Drain(ScheduleEntry entry)
    {
        if (entry.Draining)
        {
            entry.Dirty = true;
            return;
        }

        entry.Draining = true;
        try
        {
            do
            {
                entry.Dirty = false;
                DrainOnce(entry);
            }
            while (entry.Dirty);
        }
        finally
        {
            entry.Draining = false;
        }
    }

    private void DrainOnce(ScheduleEntry entry)
    {
        var running = entry.Info.RunningWorkflows.Count > 0;
        var keep = new List<BufferedStart>();
        var start = new List<BufferedStart>();
        var (cancel, terminate) = (false, false);
        foreach (var b in entry.Buffer)
        {
            var policy = b.Overlap == ScheduleOverlapPolicy.Unspecified ? entry.Schedule.Policies.OverlapPolicy : b.Overlap;
            if (!running && keep.Count == 0)
            {
                start.Add(b);
                running = true;
                continue;
            }

            switch (policy)
            {
                case ScheduleOverlapPolicy.AllowAll:
                    start.Add(b);
                    break;
                case ScheduleOverlapPolicy.BufferOne:
                    if (keep.Count == 0)
                    {
                        keep.Add(b);
                    }
                    else
                    {
                        entry.Info.OverlapSkipped++;
                    }

                    break;
                case ScheduleOverlapPolicy.BufferAll:
                    if (keep.Count >= MaxBuffer)
                    {
                        entry.Info.BufferDropped++;
                    }
                    else
                    {
                        keep.Add(b);
                    }

                    break;
                case ScheduleOverlapPolicy.CancelOther:
                    cancel = true;
                    keep.Clear();
                    keep.Add(b);
                    break;
                case ScheduleOverlapPolicy.TerminateOther:
                    terminate = true;
                    keep.Clear();
                    keep.Add(b);
                    break;
                default:
                    entry.Info.OverlapSkipped++;
                    break;
            }
        }

        entry.Buffer.Clear();
        entry.Buffer.AddRange(keep);
        entry.Info.BufferSize = keep.Count;
        foreach (var b in start)
        {
            StartAction(entry, b);
        }

        if (terminate || cancel)
        {
            foreach (var execution in entry.Info.RunningWorkflows.ToList())
            {
                TryRun(() =>
                {
                    var run = engine.FindRun(entry.Namespace, new WorkflowExecution { WorkflowId = execution.WorkflowId });
                    if (terminate)
                    {
                        engine.Terminate(run, "terminated by schedule overlap policy", null, "temporal-scheduler");
                    }
                    else
                    {
                        engine.RequestCancel(run, "cancelled by schedule overlap policy", "temporal-scheduler");
                    }
                });
            }
        }
    }

    private void StartAction(ScheduleEntry entry, BufferedStart b)
    {
        var action = entry.Schedule.Action.StartWorkflow;
        var workflowId = entry.Schedule.Policies.KeepOriginalWorkflowId
            ? action.WorkflowId
            : action.WorkflowId + "-" + b.Nominal.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var searchAttributes = action.SearchAttributes?.Clone() ?? new SearchAttributes();
        searchAttributes.IndexedFields["TemporalScheduledStartTime"] = Typed(
            "Datetime",
            b.Actual.ToString("yyyy-MM-ddTHH:mm:ss.FFFFFFFZ", CultureInfo.InvariantCulture));
        searchAttributes.IndexedFields["TemporalScheduledById"] = Typed("Keyword", entry.Id);
        var attributes = new WorkflowExecutionStartedEventAttributes
        {
            WorkflowType = action.WorkflowType,
            TaskQueue = new Temporalio.Api.TaskQueue.V1.TaskQueue { Name = action.TaskQueue.Name, Kind = TaskQueueKind.Normal },
            Input = action.Input,
            WorkflowExecutionTimeout = action.WorkflowExecutionTimeout,
            WorkflowRunTimeout = action.WorkflowRunTimeout ?? action.WorkflowExecutionTimeout,
            WorkflowTaskTimeout = action.WorkflowTaskTimeout,
            RetryPolicy = action.RetryPolicy,
            Memo = action.Memo,
            SearchAttributes = searchAttributes,
            Header = action.Header,
            Identity = "temporal-scheduler",
            LastCompletionResult = entry.LastCompletionResult,
            ContinuedFailure = entry.LastFailure,
        };
        // Deterministic, so an action started just before a crash and taken again after the restart is the same start.
        var requestId = $"schedule/{entry.Namespace}/{entry.Id}/{b.Nominal.Ticks}/{b.Manual}";
        StartOutcome outcome;
        try
        {
            outcome = engine.StartWorkflow(new StartParams(
                entry.Namespace,
                workflowId,
                attributes,
                requestId,
                WorkflowIdReusePolicy.AllowDuplicate,
                WorkflowIdConflictPolicy.Fail));
        }
        catch (RpcException e)
        {
            logger.LogWarning("Schedule {ScheduleId} could not start {WorkflowId}: {Message}", entry.Id, workflowId, e.Status.Detail);
            return;
        }

        var execution = new WorkflowExecution { WorkflowId = workflowId, RunId = outcome.Run.RunId };
        entry.Info.ActionCount++;
        entry.Info.RecentActions.Add(new ScheduleActionResult
        {
            ScheduleTime = CompiledSpec.Stamp(b.Actual),
            ActualTime = CompiledSpec.Stamp(Now),
            StartWorkflowResult = execution,
            StartWorkflowStatus = WorkflowExecutionStatus.Running,
        });
        while (entry.Info.RecentActions.Count > RecentActionCount)
        {
            entry.Info.RecentActions.RemoveAt(0);
        }

        if (outcome.Run.IsRunning)
        {
            entry.Info.RunningWorkflows.Add(execution);
            _byWorkflow[(entry.Namespace, workflowId)] = entry;
        }
    }

    private static Payload Typed(string type, string value) => new()
    {
        Metadata =
        {
            ["encoding"] = ByteString.CopyFromUtf8("json/plain"),
            ["type"] = ByteString.CopyFromUtf8(type),
        },
        Data = ByteString.CopyFrom(Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(value))),
    };

    /// <summary>The engine calls this after a run closed and its lock was released.</summary>
    public void OnRunClosed(WorkflowRun run)
    {
        if (run.NextRun is not null || !_byWorkflow.TryGetValue((run.Namespace, run.WorkflowId), out var entry))
        {
            return;
        }

        lock (entry.Gate)
        {
            if (Closed(entry, run.WorkflowId, run.Status, run.CloseEvent) && !entry.Deleted)
            {
                Drain(entry);
                Save(entry);
            }
        }
    }

    private bool Closed(ScheduleEntry entry, string workflowId, WorkflowExecutionStatus status, HistoryEvent? closeEvent)
    {
        var index = entry.Info.RunningWorkflows.ToList().FindIndex(w => w.WorkflowId == workflowId);
        if (index < 0)
        {
            return false;
        }

        entry.Info.RunningWorkflows.RemoveAt(index);
        _byWorkflow.TryRemove(new KeyValuePair<(string, string), ScheduleEntry>((entry.Namespace, workflowId), entry));
        foreach (var action in entry.Info.RecentActions.Where(a => a.StartWorkflowResult?.WorkflowId == workflowId))
        {
            action.StartWorkflowStatus = status;
        }

        switch (status)
        {
            case WorkflowExecutionStatus.Completed:
                entry.LastCompletionResult = closeEvent?.WorkflowExecutionCompletedEventAttributes?.Result;
                entry.LastFailure = null;
                break;
            case WorkflowExecutionStatus.Failed or WorkflowExecutionStatus.TimedOut:
                entry.LastFailure = closeEvent?.WorkflowExecutionFailedEventAttributes?.Failure;
                if (entry.Schedule.Policies.PauseOnFailure)
                {
                    entry.Schedule.State.Paused = true;
                    var outcome = status == WorkflowExecutionStatus.Failed ? "failed" : "timed out";
                    entry.Schedule.State.Notes = $"paused after workflow {workflowId} {outcome}";
                }

                break;
        }

        return true;
    }

    // ---- Reading ----

    /// <summary>The next action times from now (as actual times), no more than the remaining actions allow.</summary>
    public static List<DateTime> FutureTimes(ScheduleEntry entry, int count)
    {
        var times = new List<DateTime>();
        var state = entry.Schedule.State;
        if (state.LimitedActions)
        {
            count = (int)Math.Min(count, Math.Max(0, state.RemainingActions));
        }

        var cursor = entry.Cursor;
        while (times.Count < count && entry.Spec.Next(cursor) is { } next)
        {
            times.Add(next.Actual);
            cursor = next.Nominal;
        }

        return times;
    }

    // ---- Durability ----

    private void Save(ScheduleEntry entry)
    {
        if (!entry.Deleted)
        {
            store.SaveSchedule(entry.Namespace, entry.Id, entry.Serialize());
        }
    }

    /// <summary>
    /// Loads the stored schedules after the runs were recovered: workflows that closed meanwhile are noted, and the
    /// action times the server slept through fire now if they are within the catch-up window.
    /// </summary>
    public void Recover()
    {
        foreach (var (ns, id, state) in store.LoadSchedules())
        {
            ScheduleEntry entry;
            try
            {
                entry = ScheduleEntry.Deserialize(ns, id, state);
            }
            catch (Exception e) when (e is InvalidProtocolBufferException or EndOfStreamException or RpcException)
            {
                logger.LogError(e, "Schedule {ScheduleId} could not be recovered", id);
                continue;
            }

            _schedules[(ns, id)] = entry;
            lock (entry.Gate)
            {
                foreach (var running in entry.Info.RunningWorkflows.ToList())
                {
                    _byWorkflow[(ns, running.WorkflowId)] = entry;
                    WorkflowRun? run = null;
                    TryRun(() => run = engine.FindRun(ns, new WorkflowExecution { WorkflowId = running.WorkflowId }));
                    if (run is null || !run.IsRunning)
                    {
                        Closed(entry, running.WorkflowId, run?.Status ?? WorkflowExecutionStatus.Terminated, run?.CloseEvent);
                    }
                }

                Process(entry);
            }
        }
    }

    private void TryRun(Action action)
    {
        try
        {
            action();
        }
        catch (RpcException e)
        {
            logger.LogDebug("Schedule action on a workflow skipped: {Message}", e.Status.Detail);
        }
    }
}
