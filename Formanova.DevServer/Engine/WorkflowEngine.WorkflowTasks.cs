using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.History.V1;
using Temporalio.Api.TaskQueue.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

internal sealed partial class WorkflowEngine
{
    private void ScheduleWorkflowTask(WorkflowRun run, List<Action> after)
    {
        if (!run.IsRunning || run.WtPending)
        {
            return;
        }

        if (run.WtAttempt > 1)
        {
            // Retries of a failing task are not written to history until one succeeds (transient task).
            run.ScheduleTransientWorkflowTask(Now);
        }
        else
        {
            run.Add(EventType.WorkflowTaskScheduled, e => e.WorkflowTaskScheduledEventAttributes = new WorkflowTaskScheduledEventAttributes
            {
                TaskQueue = run.StickyQueue is { } sticky
                    ? new TaskQueue { Name = sticky, Kind = TaskQueueKind.Sticky, NormalName = run.Start.TaskQueue.Name }
                    : NormalQueue(run),
                StartToCloseTimeout = Duration.FromTimeSpan(run.WorkflowTaskTimeout),
                Attempt = 1,
            });
        }

        DispatchWorkflowTask(run, after);
    }

    private void DispatchWorkflowTask(WorkflowRun run, List<Action> after)
    {
        var seq = run.NextWorkflowTaskDispatch();
        var sticky = run.StickyQueue;
        var queue = WorkflowQueue(run.Namespace, sticky ?? run.Start.TaskQueue.Name);
        var item = new WorkflowTaskRef(run, seq, sticky is not null, null);
        after.Add(() => queue.Add(item));
        if (sticky is not null)
        {
            // A sticky worker that went away must not strand the workflow: fall back to the normal queue.
            _scheduler.After(run.StickyTimeout, () => Locked(run, later =>
            {
                if (run.IsRunning && run.WtDispatchSeq == seq && run.WtPending && !run.WtStarted)
                {
                    run.Unstick();
                    DispatchWorkflowTask(run, later);
                }
            }));
        }
    }

    public async Task<PollWorkflowTaskQueueResponse> PollWorkflowTaskQueueAsync(
        PollWorkflowTaskQueueRequest request,
        global::Grpc.Core.ServerCallContext context)
    {
        RequireNamespace(request.Namespace);
        if (string.IsNullOrEmpty(request.TaskQueue?.Name))
        {
            throw Errors.InvalidArgument("TaskQueue is not set on request.");
        }

        return await LongPollAsync(WorkflowQueue(request.Namespace, request.TaskQueue.Name), context,
            item => item.Query is { } query ? TryStartQuery(item, query) : TryStartWorkflowTask(item, request.Identity));
    }

    /// <summary>
    /// Eager start: the first task goes back in the start response to the worker in the caller's process, which saves
    /// it a poll round trip. Null when there is none to hand out: a delayed or cron start, or a poller was faster.
    /// </summary>
    public PollWorkflowTaskQueueResponse? TryStartEagerWorkflowTask(WorkflowRun run, string identity)
    {
        // The copy already queued for pollers is then stale, and a poller that takes it skips it (sequence check).
        int seq;
        lock (run.Gate)
        {
            seq = run.WtPending && !run.WtStarted && run.StickyQueue is null ? run.WtDispatchSeq : 0;
        }

        return seq == 0 ? null : TryStartWorkflowTask(new WorkflowTaskRef(run, seq, Sticky: false, Query: null), identity);
    }

    private PollWorkflowTaskQueueResponse? TryStartWorkflowTask(WorkflowTaskRef item, string identity)
    {
        var run = item.Run;
        return Locked(run, after =>
        {
            if (!run.IsRunning || run.WtDispatchSeq != item.Seq || !run.WtPending || run.WtStarted)
            {
                return null;
            }

            var now = Now;
            var events = new List<HistoryEvent>();
            long scheduledId, startedId;
            if (run.WtTransientScheduled)
            {
                scheduledId = run.NextEventId;
                startedId = scheduledId + 1;
                events.Add(TransientScheduled(run, scheduledId));
                events.Add(TransientStarted(run, scheduledId, startedId, identity));
                run.StartTransientWorkflowTask(scheduledId, startedId);
            }
            else
            {
                scheduledId = run.WtScheduledId;
                startedId = run.Add(EventType.WorkflowTaskStarted, e => e.WorkflowTaskStartedEventAttributes
                    = new WorkflowTaskStartedEventAttributes
                    {
                        ScheduledEventId = scheduledId,
                        Identity = identity,
                        RequestId = Guid.NewGuid().ToString(),
                        HistorySizeBytes = run.HistorySizeBytes,
                    }).EventId;
            }

            var attempt = run.WtAttempt;
            var seq = item.Seq;
            _scheduler.After(run.WorkflowTaskTimeout, () => Locked(run, later =>
            {
                if (run.IsRunning && run.WtDispatchSeq == seq && run.WtStartedId == startedId)
                {
                    FailWorkflowTask(run, EventType.WorkflowTaskTimedOut, WorkflowTaskFailedCause.Unspecified, null, "server", later);
                }
            }));
            var firstEvent = item.Sticky ? run.PreviousStartedEventId + 1 : 1;
            var response = new PollWorkflowTaskQueueResponse
            {
                TaskToken = Token("w", run.Namespace, run.RunId, scheduledId, startedId, attempt, seq),
                WorkflowExecution = run.Execution,
                WorkflowType = run.Start.WorkflowType,
                PreviousStartedEventId = run.PreviousStartedEventId,
                StartedEventId = startedId,
                Attempt = attempt,
                History = new History(),
                WorkflowExecutionTaskQueue = NormalQueue(run),
                ScheduledTime = Timestamp.FromDateTime(run.WtScheduledTime),
                StartedTime = Timestamp.FromDateTime(now),
            };
            response.History.Events.AddRange(run.History.Skip((int)Math.Max(0, firstEvent - 1)));
            response.History.Events.AddRange(events);

            // Queries held behind this task go with it, as Temporal's server delivers them: held until the run went
            // quiet instead, a busy run (a result arriving during every task) kept them waiting until it closed.
            foreach (var query in run.PendingQueries)
            {
                query.MarkStarted();
                response.Queries[query.Id] = query.Query;
                run.AttachedQueries.Add(query);
            }

            run.PendingQueries.Clear();
            AttachUpdates(run, response, startedId);
            return response;
        });
    }

    private static HistoryEvent TransientScheduled(WorkflowRun run, long id) => new()
    {
        EventId = id,
        EventTime = Timestamp.FromDateTime(run.WtScheduledTime),
        EventType = EventType.WorkflowTaskScheduled,
        TaskId = id,
        WorkflowTaskScheduledEventAttributes = new WorkflowTaskScheduledEventAttributes
        {
            TaskQueue = NormalQueue(run),
            StartToCloseTimeout = Duration.FromTimeSpan(run.WorkflowTaskTimeout),
            Attempt = run.WtAttempt,
        },
    };

    private HistoryEvent TransientStarted(WorkflowRun run, long scheduledId, long id, string identity) => new()
    {
        EventId = id,
        EventTime = Timestamp.FromDateTime(Now),
        EventType = EventType.WorkflowTaskStarted,
        TaskId = id,
        WorkflowTaskStartedEventAttributes = new WorkflowTaskStartedEventAttributes
        {
            ScheduledEventId = scheduledId,
            Identity = identity,
            RequestId = Guid.NewGuid().ToString()
        },
    };

    private WorkflowRun ValidateWorkflowTaskToken(
        Google.Protobuf.ByteString token,
        string ns,
        out long scheduledId,
        out long startedId,
        out int seq)
    {
        var fields = ParseToken(token, 'w', 7);
        if (!string.IsNullOrEmpty(ns) && ns != fields[1])
        {
            throw Errors.InvalidArgument("Task token does not belong to the request namespace.");
        }

        scheduledId = ParseLong(fields[3]);
        startedId = ParseLong(fields[4]);
        seq = (int)ParseLong(fields[6]);
        return RunFromToken(fields[1], fields[2]);
    }

    private static void RequireCurrentTask(WorkflowRun run, long scheduledId, long startedId, int seq)
    {
        if (!run.IsCurrentWorkflowTask(scheduledId, startedId, seq))
        {
            throw Errors.NotFound("Workflow task not found.");
        }
    }

    /// <summary>Writes the transient task's scheduled/started events once it turns out to matter.</summary>
    private static void MaterializeTransient(WorkflowRun run, string identity)
    {
        if (!run.WtTransientScheduled)
        {
            return;
        }

        var attempt = run.WtAttempt;
        run.ClearTransientWorkflowTask();
        var scheduled = run.Add(EventType.WorkflowTaskScheduled, e => e.WorkflowTaskScheduledEventAttributes
            = new WorkflowTaskScheduledEventAttributes
            {
                TaskQueue = NormalQueue(run),
                StartToCloseTimeout = Duration.FromTimeSpan(run.WorkflowTaskTimeout),
                Attempt = attempt,
            });
        run.Add(EventType.WorkflowTaskStarted, e => e.WorkflowTaskStartedEventAttributes = new WorkflowTaskStartedEventAttributes
        {
            ScheduledEventId = scheduled.EventId,
            Identity = identity,
            RequestId = Guid.NewGuid().ToString(),
        });
    }

    public RespondWorkflowTaskFailedResponse RespondWorkflowTaskFailed(RespondWorkflowTaskFailedRequest request)
    {
        var run = ValidateWorkflowTaskToken(request.TaskToken, request.Namespace, out var scheduledId, out var startedId, out var seq);
        Locked(run, after =>
        {
            RequireCurrentTask(run, scheduledId, startedId, seq);
            FailWorkflowTask(run, EventType.WorkflowTaskFailed, request.Cause, request.Failure, request.Identity, after);
        });
        return new RespondWorkflowTaskFailedResponse();
    }

    /// <summary>Failed or timed-out task: first attempt is recorded, later attempts stay transient; retried at once.</summary>
    private void FailWorkflowTask(
        WorkflowRun run,
        EventType type,
        WorkflowTaskFailedCause cause,
        Temporalio.Api.Failure.V1.Failure? failure,
        string identity,
        List<Action> after)
    {
        OnWorkflowTaskFailing(run, identity);
        if (run.WtTransientScheduled)
        {
            run.FailTransientWorkflowTask();
        }
        else if (type == EventType.WorkflowTaskTimedOut)
        {
            var (scheduled, started) = (run.WtScheduledId, run.WtStartedId);
            run.Add(type, e => e.WorkflowTaskTimedOutEventAttributes = new WorkflowTaskTimedOutEventAttributes
            {
                ScheduledEventId = scheduled,
                StartedEventId = started,
                TimeoutType = TimeoutType.StartToClose,
            });
        }
        else
        {
            var (scheduled, started) = (run.WtScheduledId, run.WtStartedId);
            run.Add(type, e => e.WorkflowTaskFailedEventAttributes = new WorkflowTaskFailedEventAttributes
            {
                ScheduledEventId = scheduled,
                StartedEventId = started,
                Cause = cause,
                Failure = failure,
                Identity = identity,
            });
        }

        HoldAttachedQueries(run);
        // The worker that failed may have a broken cache; the retry goes to the normal queue with full history.
        run.Unstick();
        run.FlushBuffered();
        ScheduleWorkflowTask(run, after);
    }

    public RespondWorkflowTaskCompletedResponse RespondWorkflowTaskCompleted(RespondWorkflowTaskCompletedRequest request)
    {
        var run = ValidateWorkflowTaskToken(request.TaskToken, request.Namespace, out var scheduledId, out var startedId, out var seq);
        var response = new RespondWorkflowTaskCompletedResponse();
        Locked(run, after =>
        {
            RequireCurrentTask(run, scheduledId, startedId, seq);
            AnswerAttachedQueries(run, request.QueryResults);
            var commandError = CommandApplier.Validate(run, request.Commands) ?? ValidateUpdateMessages(run, request);
            if (commandError is not null)
            {
                MaterializeTransient(run, request.Identity);
                FailWorkflowTask(run, EventType.WorkflowTaskFailed, commandError.Value.Cause,
                    new Temporalio.Api.Failure.V1.Failure
                    {
                        Message = commandError.Value.Message,
                        Source = "Server",
                        ServerFailureInfo = new()
                    }, "server", after);
                throw Errors.InvalidArgument(commandError.Value.Message);
            }

            if (TryDiscardSpeculativeTask(run, request, response, after))
            {
                return;
            }

            var closes = request.Commands.Any(c => IsCloseCommand(c.CommandType));
            if (closes && run.HasBuffered)
            {
                // New events arrived while the task ran; closing now would lose them (UnhandledCommand).
                OnWorkflowTaskFailing(run, request.Identity);
                MaterializeTransient(run, request.Identity);
                var (s, st) = (run.WtScheduledId, run.WtStartedId);
                run.Add(EventType.WorkflowTaskFailed, e => e.WorkflowTaskFailedEventAttributes = new WorkflowTaskFailedEventAttributes
                {
                    ScheduledEventId = s,
                    StartedEventId = st,
                    Cause = WorkflowTaskFailedCause.UnhandledCommand,
                    Identity = request.Identity,
                });
                run.ResetWorkflowTaskAttempt();
                run.FlushBuffered();
                ScheduleWorkflowTask(run, after);
                return;
            }

            run.Updates.SpeculativeBase = 0;
            MaterializeTransient(run, request.Identity);
            var (sched, started) = (run.WtScheduledId, run.WtStartedId);
            var completed = run.Add(EventType.WorkflowTaskCompleted, e => e.WorkflowTaskCompletedEventAttributes
                = new WorkflowTaskCompletedEventAttributes
                {
                    ScheduledEventId = sched,
                    StartedEventId = started,
                    Identity = request.Identity,
                    BinaryChecksum = request.BinaryChecksum,
                    SdkMetadata = request.SdkMetadata,
                    MeteringMetadata = request.MeteringMetadata,
                    WorkerVersion = request.WorkerVersionStamp,
                });
            if (request.StickyAttributes?.WorkerTaskQueue is { Name.Length: > 0 } sticky)
            {
                var timeout = request.StickyAttributes.ScheduleToStartTimeout?.ToTimeSpan() ?? TimeSpan.Zero;
                run.StickTo(sticky.Name, timeout > TimeSpan.Zero ? timeout : TimeSpan.FromSeconds(5));
            }
            else
            {
                run.Unstick();
            }

            var eager = new List<ActivityState>();
            foreach (var command in request.Commands)
            {
                if (!run.IsRunning)
                {
                    break;
                }

                if (command.CommandType == CommandType.ProtocolMessage)
                {
                    ApplyProtocolMessageCommand(run, request, command);
                    continue;
                }

                _commands.Apply(run, command, completed.EventId, request.Identity, after, eager);
            }

            FinishUpdateMessages(run, request);
            if (!run.IsRunning)
            {
                OnClosed(run, after);
                return;
            }

            // Eager activities skip a poll round trip: the worker that scheduled them gets them in this response.
            foreach (var activity in eager)
            {
                if (run.Activities.TryGetValue(activity.ScheduledEventId, out var current) && current == activity && !activity.Closing)
                {
                    response.ActivityTasks.Add(_activities.StartActivityLocked(run, activity, request.Identity));
                }
            }

            // An activity cancelled before it started resolves immediately and the workflow must hear of it.
            var resolvedInline = run.History.Skip((int)completed.EventId).Any(e => e.EventType == EventType.ActivityTaskCanceled);
            var wroteBuffered = run.FlushBuffered();
            if (wroteBuffered || resolvedInline || request.ForceCreateNewWorkflowTask)
            {
                ScheduleWorkflowTask(run, after);
            }
            else
            {
                // Updates that arrived while the task ran get a task of their own; held queries then ride on it.
                ScheduleTaskForUpdates(run, after);
                if (!run.WtPending)
                {
                    ReleaseQueries(run, after);
                }
            }
        });
        return response;
    }

    private static bool IsCloseCommand(
        CommandType type) => type is CommandType.CompleteWorkflowExecution or CommandType.FailWorkflowExecution
        or CommandType.CancelWorkflowExecution or CommandType.ContinueAsNewWorkflowExecution;

    // ---- Queries ----

    public async Task<QueryWorkflowResponse> QueryWorkflowAsync(QueryWorkflowRequest request, global::Grpc.Core.ServerCallContext context)
    {
        RequireNamespace(request.Namespace);
        if (string.IsNullOrEmpty(request.Query?.QueryType))
        {
            throw Errors.InvalidArgument("QueryType is not set on request.");
        }

        var run = FindRun(request.Namespace, request.Execution);
        var task = new QueryTask(run, request.Query);
        var rejected = Locked(run, after =>
        {
            var reject = request.QueryRejectCondition switch
            {
                QueryRejectCondition.NotOpen => !run.IsRunning,
                QueryRejectCondition.NotCompletedCleanly => run
                    .Status is not (WorkflowExecutionStatus.Running or WorkflowExecutionStatus.Completed),
                _ => false,
            };
            if (reject)
            {
                return new QueryWorkflowResponse { QueryRejected = new Temporalio.Api.Query.V1.QueryRejected { Status = run.Status } };
            }

            _queries[task.Id] = task;
            if (run.IsRunning && run.WtPending)
            {
                // A task is in flight; the query is dispatched once it completes so the answer reflects it.
                run.PendingQueries.Add(task);
            }
            else
            {
                after.Add(() => DispatchQuery(task));
            }

            return null;
        });
        if (rejected is not null)
        {
            return rejected;
        }

        try
        {
            var answer = await task.Result.Task.WaitAsync(context.CancellationToken);
            if (answer.CompletedType == QueryResultType.Answered)
            {
                return new QueryWorkflowResponse { QueryResult = answer.QueryResult };
            }

            throw Errors.QueryFailed(answer.Failure?.Message is { Length: > 0 } m ? m : answer.ErrorMessage);
        }
        finally
        {
            _queries.TryRemove(task.Id, out _);
        }
    }

    private static void AnswerAttachedQueries(WorkflowRun run, IDictionary<string, Temporalio.Api.Query.V1.WorkflowQueryResult> results)
    {
        foreach (var query in run.AttachedQueries)
        {
            if (results.TryGetValue(query.Id, out var result))
            {
                query.Result.TrySetResult(new RespondQueryTaskCompletedRequest
                {
                    CompletedType = result.ResultType,
                    QueryResult = result.Answer,
                    ErrorMessage = result.ErrorMessage,
                    Failure = result.Failure,
                });
            }
        }

        HoldAttachedQueries(run);
    }

    /// <summary>Attached queries the task did not answer wait again, for the next task or for the run to go quiet or close.</summary>
    private static void HoldAttachedQueries(WorkflowRun run)
    {
        foreach (var query in run.AttachedQueries.Where(q => !q.Result.Task.IsCompleted))
        {
            query.Release();
            run.PendingQueries.Add(query);
        }

        run.AttachedQueries.Clear();
    }

    private void ReleaseQueries(WorkflowRun run, List<Action> after)
    {
        foreach (var query in run.PendingQueries)
        {
            after.Add(() => DispatchQuery(query));
        }

        run.PendingQueries.Clear();
    }

    private void DispatchQuery(QueryTask task)
    {
        var run = task.Run;
        Locked(run, after =>
        {
            var seq = task.NextDispatch();
            var sticky = run.IsRunning ? run.StickyQueue : null;
            var queue = WorkflowQueue(run.Namespace, sticky ?? run.Start.TaskQueue.Name);
            after.Add(() => queue.Add(new WorkflowTaskRef(run, seq, sticky is not null, task)));
            if (sticky is not null)
            {
                _scheduler.After(run.StickyTimeout, () => Locked(run, later =>
                {
                    if (!task.Started && task.DispatchSeq == seq && !task.Result.Task.IsCompleted)
                    {
                        run.Unstick();
                        later.Add(() => DispatchQuery(task));
                    }
                }));
            }
        });
    }

    private PollWorkflowTaskQueueResponse? TryStartQuery(WorkflowTaskRef item, QueryTask task)
    {
        var run = item.Run;
        return Locked(run, _ =>
        {
            if (task.Started || task.DispatchSeq != item.Seq || task.Result.Task.IsCompleted)
            {
                return null;
            }

            task.MarkStarted();
            var response = new PollWorkflowTaskQueueResponse
            {
                TaskToken = Token("q", task.Id),
                WorkflowExecution = run.Execution,
                WorkflowType = run.Start.WorkflowType,
                PreviousStartedEventId = run.PreviousStartedEventId,
                StartedEventId = run.PreviousStartedEventId,
                Attempt = 1,
                Query = task.Query,
                History = new History(),
                WorkflowExecutionTaskQueue = NormalQueue(run),
                ScheduledTime = Timestamp.FromDateTime(Now),
                StartedTime = Timestamp.FromDateTime(Now),
            };
            // A sticky worker answers from its cache; anyone else replays the full history.
            if (!item.Sticky)
            {
                response.History.Events.AddRange(run.History);
            }

            return response;
        });
    }

    public RespondQueryTaskCompletedResponse RespondQueryTaskCompleted(RespondQueryTaskCompletedRequest request)
    {
        var fields = ParseToken(request.TaskToken, 'q', 2);
        if (!_queries.TryGetValue(fields[1], out var task))
        {
            throw Errors.NotFound("Query task not found or already answered.");
        }

        task.Result.TrySetResult(request);
        return new RespondQueryTaskCompletedResponse();
    }

    // ---- Stickiness ----

    public void ResetSticky(WorkflowRun run) => Locked(run, after => UnstickLocked(run, after));

    private void UnstickLocked(WorkflowRun run, List<Action> after)
    {
        if (run.StickyQueue is null)
        {
            return;
        }

        run.Unstick();
        if (run.IsRunning && run.WtPending && !run.WtStarted)
        {
            DispatchWorkflowTask(run, after);
        }
    }

    /// <summary>A worker shutting down gives up its sticky queue; its workflows move to the normal queue now.</summary>
    public void ShutdownWorker(string ns, string stickyQueue)
    {
        if (string.IsNullOrEmpty(stickyQueue))
        {
            return;
        }

        foreach (var run in _runs.Values.Where(r => r.Namespace == ns && r.StickyQueue == stickyQueue))
        {
            Locked(run, after =>
            {
                if (run.StickyQueue == stickyQueue)
                {
                    UnstickLocked(run, after);
                }
            });
        }
    }
}
