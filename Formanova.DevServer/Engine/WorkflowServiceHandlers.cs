using System.Buffers.Binary;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.History.V1;
using Temporalio.Api.Namespace.V1;
using Temporalio.Api.Workflow.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

internal delegate Task<IMessage> RpcHandler(IMessage request, ServerCallContext context);

/// <summary>The RPCs the dev server implements; every other WorkflowService method answers UNIMPLEMENTED.</summary>
internal sealed partial class WorkflowServiceHandlers : RpcHandlerTable
{
    private const string ServerVersion = "1.27.0";
    private readonly WorkflowEngine _engine;

    public WorkflowServiceHandlers(WorkflowEngine engine)
    {
        _engine = engine;
        Add<GetSystemInfoRequest, GetSystemInfoResponse>("GetSystemInfo", (_, _) => new GetSystemInfoResponse
        {
            ServerVersion = ServerVersion,
            // Only what is implemented: no Nexus or versioning (schedules have no capability flag).
            Capabilities = new GetSystemInfoResponse.Types.Capabilities
            {
                EagerWorkflowStart = true,
                SignalAndQueryHeader = true,
                InternalErrorDifferentiation = true,
                ActivityFailureIncludeHeartbeat = true,
                EncodedFailureAttributes = true,
                UpsertMemo = true,
                SdkMetadata = true,
            },
        });
        Add<GetClusterInfoRequest, GetClusterInfoResponse>("GetClusterInfo", (_, _) => new GetClusterInfoResponse
        {
            ServerVersion = ServerVersion,
            ClusterId = "formanova-devserver",
            ClusterName = "formanova-devserver",
            HistoryShardCount = 1,
            PersistenceStore = "sqlite",
            VisibilityStore = "in-memory",
        });
        Add<DescribeNamespaceRequest, DescribeNamespaceResponse>("DescribeNamespace", (r, _) =>
        {
            var ns = !string.IsNullOrEmpty(r.Id)
                ? engine.FindNamespaceById(r.Id) ?? throw Errors.NamespaceNotFound(r.Id)
                : engine.RequireNamespace(r.Namespace);
            return Describe(ns);
        });
        Add<ListNamespacesRequest, ListNamespacesResponse>("ListNamespaces", (_, _) =>
        {
            var response = new ListNamespacesResponse();
            response.Namespaces.AddRange(engine.Namespaces.OrderBy(n => n.Name, StringComparer.Ordinal).Select(Describe));
            return response;
        });
        Add<RegisterNamespaceRequest, RegisterNamespaceResponse>("RegisterNamespace", (r, _) =>
        {
            if (string.IsNullOrWhiteSpace(r.Namespace))
            {
                throw Errors.InvalidArgument("Namespace is not set on request.");
            }

            var retention = r.WorkflowExecutionRetentionPeriod?.ToTimeSpan() ?? TimeSpan.Zero;
            if (retention < TimeSpan.Zero)
            {
                throw Errors.InvalidArgument("Retention must not be negative.");
            }

            engine.RegisterNamespace(
                r.Namespace,
                retention == TimeSpan.Zero ? TimeSpan.FromDays(1) : retention,
                r.Description,
                failIfExists: true);
            return new RegisterNamespaceResponse();
        });
        Add<StartWorkflowExecutionRequest, StartWorkflowExecutionResponse>("StartWorkflowExecution", (r, _) =>
        {
            var outcome = engine
                .StartWorkflow(ToStartParams(r.Namespace, r.WorkflowId, r.WorkflowType, r.TaskQueue, r.Input, r.WorkflowExecutionTimeout,
                    r.WorkflowRunTimeout, r.WorkflowTaskTimeout, r.Identity, r.RequestId, r.WorkflowIdReusePolicy,
                    r.WorkflowIdConflictPolicy, r.RetryPolicy, r.CronSchedule, r.Memo, r.SearchAttributes, r.Header,
                    r.WorkflowStartDelay, null).WithDetails(r.UserMetadata, r.Priority));
            var response = new StartWorkflowExecutionResponse
            {
                RunId = outcome.Run.RunId,
                Started = outcome.Started,
                Status = outcome.Run.Status
            };
            if (r.RequestEagerExecution && outcome.Started)
            {
                response.EagerWorkflowTask = engine.TryStartEagerWorkflowTask(outcome.Run, r.Identity);
            }

            return response;
        });
        Add<SignalWithStartWorkflowExecutionRequest, SignalWithStartWorkflowExecutionResponse>("SignalWithStartWorkflowExecution", (r, _) =>
        {
            if (string.IsNullOrEmpty(r.SignalName))
            {
                throw Errors.InvalidArgument("SignalName is not set on request.");
            }

            engine.RequireNamespace(r.Namespace);
            try
            {
                var current = engine.FindRun(r.Namespace, new WorkflowExecution { WorkflowId = r.WorkflowId });
                if (current.IsRunning)
                {
                    engine.Signal(current, r.SignalName, r.SignalInput, r.Header, r.Identity);
                    return new SignalWithStartWorkflowExecutionResponse { RunId = current.RunId, Started = false };
                }
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.NotFound or StatusCode.FailedPrecondition)
            {
                // Not running: fall through and start it with the signal as its first event.
            }

            var signal = new HistoryEvent
            {
                WorkflowExecutionSignaledEventAttributes = new WorkflowExecutionSignaledEventAttributes
                {
                    SignalName = r.SignalName,
                    Input = r.SignalInput,
                    Header = r.Header,
                    Identity = r.Identity,
                },
            };
            var outcome = engine.StartWorkflow(ToStartParams(r.Namespace, r.WorkflowId, r.WorkflowType, r.TaskQueue, r.Input, r
                .WorkflowExecutionTimeout,
                r.WorkflowRunTimeout, r.WorkflowTaskTimeout, r.Identity, r.RequestId, r.WorkflowIdReusePolicy,
                r.WorkflowIdConflictPolicy == WorkflowIdConflictPolicy.Unspecified
                    ? WorkflowIdConflictPolicy.UseExisting
                    : r.WorkflowIdConflictPolicy,
                r.RetryPolicy, r.CronSchedule, r.Memo, r.SearchAttributes, r.Header, r.WorkflowStartDelay, signal)
                .WithDetails(r.UserMetadata, r.Priority));
            if (!outcome.Started)
            {
                engine.Signal(outcome.Run, r.SignalName, r.SignalInput, r.Header, r.Identity);
            }

            return new SignalWithStartWorkflowExecutionResponse { RunId = outcome.Run.RunId, Started = outcome.Started };
        });
        Add<SignalWorkflowExecutionRequest, SignalWorkflowExecutionResponse>("SignalWorkflowExecution", (r, _) =>
        {
            engine.RequireNamespace(r.Namespace);
            if (string.IsNullOrEmpty(r.SignalName))
            {
                throw Errors.InvalidArgument("SignalName is not set on request.");
            }

            engine.Signal(engine.FindRun(r.Namespace, r.WorkflowExecution), r.SignalName, r.Input, r.Header, r.Identity);
            return new SignalWorkflowExecutionResponse();
        });
        Add<TerminateWorkflowExecutionRequest, TerminateWorkflowExecutionResponse>("TerminateWorkflowExecution", (r, _) =>
        {
            engine.RequireNamespace(r.Namespace);
            engine.Terminate(engine.FindRun(r.Namespace, r.WorkflowExecution), r.Reason, r.Details, r.Identity);
            return new TerminateWorkflowExecutionResponse();
        });
        Add<RequestCancelWorkflowExecutionRequest, RequestCancelWorkflowExecutionResponse>("RequestCancelWorkflowExecution", (r, _) =>
        {
            engine.RequireNamespace(r.Namespace);
            var run = engine.FindRun(r.Namespace, r.WorkflowExecution);
            try
            {
                engine.RequestCancel(run, r.Reason, r.Identity);
            }
            catch (RpcException) when (!run.IsRunning)
            {
                // As on a real Temporal server, cancelling a run that has closed succeeds with nothing to do.
            }

            return new RequestCancelWorkflowExecutionResponse();
        });
        AddAsync<GetWorkflowExecutionHistoryRequest, GetWorkflowExecutionHistoryResponse>("GetWorkflowExecutionHistory", GetHistoryAsync);
        Add<DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse>("DescribeWorkflowExecution", (r, _) =>
        {
            engine.RequireNamespace(r.Namespace);
            return DescribeRun(engine.FindRun(r.Namespace, r.Execution));
        });
        AddVisibilityHandlers();
        AddTaskQueueHandlers();
        AddActivityOperationHandlers();
        AddScheduleHandlers();
        AddUpdateHandlers();
        AddAsync<PollWorkflowTaskQueueRequest, PollWorkflowTaskQueueResponse>("PollWorkflowTaskQueue", engine.PollWorkflowTaskQueueAsync);
        Add<RespondWorkflowTaskCompletedRequest, RespondWorkflowTaskCompletedResponse>(
            "RespondWorkflowTaskCompleted",
            (r, _) => engine.RespondWorkflowTaskCompleted(r));
        Add<RespondWorkflowTaskFailedRequest, RespondWorkflowTaskFailedResponse>(
            "RespondWorkflowTaskFailed",
            (r, _) => engine.RespondWorkflowTaskFailed(r));
        AddAsync<QueryWorkflowRequest, QueryWorkflowResponse>("QueryWorkflow", engine.QueryWorkflowAsync);
        Add<RespondQueryTaskCompletedRequest, RespondQueryTaskCompletedResponse>(
            "RespondQueryTaskCompleted",
            (r, _) => engine.RespondQueryTaskCompleted(r));
        Add<ResetStickyTaskQueueRequest, ResetStickyTaskQueueResponse>("ResetStickyTaskQueue", (r, _) =>
        {
            engine.RequireNamespace(r.Namespace);
            engine.ResetSticky(engine.FindRun(r.Namespace, r.Execution));
            return new ResetStickyTaskQueueResponse();
        });
        Add<ShutdownWorkerRequest, ShutdownWorkerResponse>("ShutdownWorker", (r, _) =>
        {
            engine.RequireNamespace(r.Namespace);
            engine.ShutdownWorker(r.Namespace, r.StickyTaskQueue, r.WorkerInstanceKey);
            return new ShutdownWorkerResponse();
        });
        AddAsync<PollActivityTaskQueueRequest, PollActivityTaskQueueResponse>("PollActivityTaskQueue", engine.PollActivityTaskQueueAsync);
        Add<RecordActivityTaskHeartbeatRequest, RecordActivityTaskHeartbeatResponse>("RecordActivityTaskHeartbeat", (r, _) =>
            engine.Activities.Heartbeat(engine.ResolveActivityToken(r.TaskToken, r.Namespace), r.Details));
        Add<RecordActivityTaskHeartbeatByIdRequest, RecordActivityTaskHeartbeatByIdResponse>("RecordActivityTaskHeartbeatById", (r, _) =>
        {
            var heartbeat = engine.Activities.Heartbeat(
                engine.ResolveActivityById(r.Namespace, r.WorkflowId, r.RunId, r.ActivityId),
                r.Details);
            return new RecordActivityTaskHeartbeatByIdResponse
            {
                CancelRequested = heartbeat.CancelRequested,
                ActivityPaused = heartbeat.ActivityPaused,
                ActivityReset = heartbeat.ActivityReset,
            };
        });
        Add<RespondActivityTaskCompletedRequest, RespondActivityTaskCompletedResponse>("RespondActivityTaskCompleted", (r, _) =>
        {
            engine.Activities.CompleteActivity(engine.ResolveActivityToken(r.TaskToken, r.Namespace), r.Result, r.Identity);
            return new RespondActivityTaskCompletedResponse();
        });
        Add<RespondActivityTaskCompletedByIdRequest, RespondActivityTaskCompletedByIdResponse>("RespondActivityTaskCompletedById", (r, _) =>
        {
            engine.Activities.CompleteActivity(
                engine.ResolveActivityById(r.Namespace, r.WorkflowId, r.RunId, r.ActivityId),
                r.Result,
                r.Identity);
            return new RespondActivityTaskCompletedByIdResponse();
        });
        Add<RespondActivityTaskFailedRequest, RespondActivityTaskFailedResponse>("RespondActivityTaskFailed", (r, _) =>
        {
            engine.Activities.FailActivity(
                engine.ResolveActivityToken(r.TaskToken, r.Namespace),
                r.Failure,
                r.LastHeartbeatDetails,
                r.Identity);
            return new RespondActivityTaskFailedResponse();
        });
        Add<RespondActivityTaskFailedByIdRequest, RespondActivityTaskFailedByIdResponse>("RespondActivityTaskFailedById", (r, _) =>
        {
            engine.Activities.FailActivity(
                engine.ResolveActivityById(r.Namespace, r.WorkflowId, r.RunId, r.ActivityId),
                r.Failure,
                r.LastHeartbeatDetails,
                r.Identity);
            return new RespondActivityTaskFailedByIdResponse();
        });
        Add<RespondActivityTaskCanceledRequest, RespondActivityTaskCanceledResponse>("RespondActivityTaskCanceled", (r, _) =>
        {
            engine.Activities.CancelActivityCompleted(engine.ResolveActivityToken(r.TaskToken, r.Namespace), r.Details, r.Identity);
            return new RespondActivityTaskCanceledResponse();
        });
        Add<RespondActivityTaskCanceledByIdRequest, RespondActivityTaskCanceledByIdResponse>("RespondActivityTaskCanceledById", (r, _) =>
        {
            engine.Activities.CancelActivityCompleted(
                engine.ResolveActivityById(r.Namespace, r.WorkflowId, r.RunId, r.ActivityId),
                r.Details,
                r.Identity);
            return new RespondActivityTaskCanceledByIdResponse();
        });
    }

    private StartParams ToStartParams(
        string ns,
        string workflowId,
        WorkflowType? type,
        Temporalio.Api.TaskQueue.V1.TaskQueue? queue,
        Payloads? input,
        Duration? executionTimeout,
        Duration? runTimeout,
        Duration? taskTimeout,
        string identity,
        string requestId,
        WorkflowIdReusePolicy reuse,
        WorkflowIdConflictPolicy conflict,
        RetryPolicy? retry,
        string cron,
        Memo? memo,
        SearchAttributes? searchAttributes,
        Header? header,
        Duration? startDelay,
        HistoryEvent? signal)
    {
        _engine.RequireNamespace(ns);
        if (string.IsNullOrWhiteSpace(workflowId))
        {
            throw Errors.InvalidArgument("WorkflowId is not set on request.");
        }

        if (string.IsNullOrWhiteSpace(type?.Name))
        {
            throw Errors.InvalidArgument("WorkflowType is not set on request.");
        }

        if (string.IsNullOrWhiteSpace(queue?.Name))
        {
            throw Errors.InvalidArgument("TaskQueue is not set on request.");
        }

        CronSchedules.Validate(cron);
        if (!string.IsNullOrEmpty(cron) && startDelay is not null && startDelay.ToTimeSpan() > TimeSpan.Zero)
        {
            throw Errors.InvalidArgument("CronSchedule and WorkflowStartDelay may not be used together.");
        }

        if (_engine.SearchAttributes.Validate(ns, searchAttributes) is { } invalidAttributes)
        {
            throw Errors.InvalidArgument(invalidAttributes);
        }

        foreach (var d in new[] { executionTimeout, runTimeout, taskTimeout, startDelay })
        {
            if (d is not null && d.ToTimeSpan() < TimeSpan.Zero)
            {
                throw Errors.InvalidArgument("Timeouts must not be negative.");
            }
        }

        if (retry is not null && (retry.MaximumAttempts < 0 || (retry.BackoffCoefficient != 0 && retry.BackoffCoefficient < 1)))
        {
            throw Errors.InvalidArgument("Invalid retry policy.");
        }

        // A run may not outlive the execution timeout.
        if (executionTimeout is not null && executionTimeout.ToTimeSpan() > TimeSpan.Zero
            && (runTimeout is null || runTimeout.ToTimeSpan() == TimeSpan.Zero || runTimeout.ToTimeSpan() > executionTimeout.ToTimeSpan()))
        {
            runTimeout = executionTimeout;
        }

        var attributes = new WorkflowExecutionStartedEventAttributes
        {
            WorkflowType = type,
            TaskQueue = new Temporalio.Api.TaskQueue.V1.TaskQueue { Name = queue.Name, Kind = TaskQueueKind.Normal },
            Input = input,
            WorkflowExecutionTimeout = executionTimeout,
            WorkflowRunTimeout = runTimeout,
            WorkflowTaskTimeout = taskTimeout,
            Identity = identity,
            RetryPolicy = retry,
            Memo = memo,
            SearchAttributes = searchAttributes,
            Header = header,
            FirstWorkflowTaskBackoff = startDelay,
            CronSchedule = cron,
        };
        return new StartParams(
            ns,
            workflowId,
            attributes,
            string.IsNullOrEmpty(requestId) ? Guid.NewGuid().ToString() : requestId,
            reuse,
            conflict,
            signal);
    }

    private async Task<GetWorkflowExecutionHistoryResponse> GetHistoryAsync(GetWorkflowExecutionHistoryRequest r, ServerCallContext context)
    {
        _engine.RequireNamespace(r.Namespace);
        var run = _engine.FindRun(r.Namespace, r.Execution);
        var closeOnly = r.HistoryEventFilterType == HistoryEventFilterType.CloseEvent;
        var offset = r.NextPageToken.Length == 8 ? (int)BinaryPrimitives.ReadInt64BigEndian(r.NextPageToken.Span) : 0;
        var pageSize = r.MaximumPageSize > 0 ? r.MaximumPageSize : 1000;
        using var cts = _engine.LongPollToken(context);
        while (true)
        {
            Task changed;
            lock (run.Gate)
            {
                var response = new GetWorkflowExecutionHistoryResponse { History = new History() };
                if (closeOnly)
                {
                    if (run.CloseEvent is { } close)
                    {
                        response.History.Events.Add(close);
                        return response;
                    }
                }
                else if (offset < run.HistoryCount || !run.IsRunning || !r.WaitNewEvent)
                {
                    var history = run.History; // read back from the log once, when the run's events were evicted
                    var page = history.Skip(offset).Take(pageSize).ToList();
                    response.History.Events.AddRange(page);
                    var next = offset + page.Count;
                    if (next < history.Count || (r.WaitNewEvent && run.IsRunning))
                    {
                        response.NextPageToken = OffsetToken(next);
                    }

                    return response;
                }

                changed = run.Changed;
            }

            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException) when (!context.CancellationToken.IsCancellationRequested)
            {
                // Long poll expired: an empty page with the same position tells the caller to ask again.
                return new GetWorkflowExecutionHistoryResponse { History = new History(), NextPageToken = OffsetToken(offset) };
            }
        }
    }

    private static ByteString OffsetToken(long offset)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(bytes, offset);
        return ByteString.CopyFrom(bytes);
    }

    private static DescribeNamespaceResponse Describe(NamespaceEntry ns) => new()
    {
        NamespaceInfo = new NamespaceInfo
        {
            Name = ns.Name,
            Id = ns.Id,
            State = NamespaceState.Registered,
            Description = ns.Description,
            // worker_poll_complete_on_shutdown stays off although ShutdownWorker completes the polls: with it the SDK
            // waits for its polls instead of dropping them, and a worker whose server has gone (killed, or an
            // embedded one stopped first) then never finishes shutting down (docs/devserver.md, "Workflow tasks").
            Capabilities = new NamespaceInfo.Types.Capabilities(),
        },
        Config = new NamespaceConfig
        {
            WorkflowExecutionRetentionTtl = Duration.FromTimeSpan(ns.Retention),
            HistoryArchivalState = ArchivalState.Disabled,
            VisibilityArchivalState = ArchivalState.Disabled,
        },
        ReplicationConfig = new Temporalio.Api.Replication.V1.NamespaceReplicationConfig { ActiveClusterName = "active" },
    };

    private static WorkflowExecutionInfo Info(WorkflowRun run)
    {
        lock (run.Gate)
        {
            var info = new WorkflowExecutionInfo
            {
                Execution = run.Execution,
                Type = run.Start.WorkflowType,
                StartTime = Timestamp.FromDateTime(run.StartTime),
                ExecutionTime = Timestamp.FromDateTime(run.StartTime + (run.Start.FirstWorkflowTaskBackoff?.ToTimeSpan() ?? TimeSpan.Zero)),
                Status = run.Status,
                HistoryLength = run.HistoryCount,
                Memo = run.Memo,
                SearchAttributes = run.SearchAttributes,
                TaskQueue = run.Start.TaskQueue.Name,
                StateTransitionCount = run.HistoryCount,
                HistorySizeBytes = run.HistorySizeBytes,
                FirstRunId = run.Start.FirstExecutionRunId,
                ParentExecution = run.Start.ParentWorkflowExecution,
            };
            if (run.CloseTime is { } closed)
            {
                info.CloseTime = Timestamp.FromDateTime(closed);
                info.ExecutionDuration = Duration.FromTimeSpan(closed - run.StartTime);
            }

            return info;
        }
    }

    private static DescribeWorkflowExecutionResponse DescribeRun(WorkflowRun run)
    {
        var response = new DescribeWorkflowExecutionResponse { WorkflowExecutionInfo = Info(run) };
        lock (run.Gate)
        {
            response.ExecutionConfig = new WorkflowExecutionConfig
            {
                TaskQueue = run.Start.TaskQueue,
                WorkflowExecutionTimeout = run.Start.WorkflowExecutionTimeout,
                WorkflowRunTimeout = run.Start.WorkflowRunTimeout,
                DefaultWorkflowTaskTimeout = run.Start.WorkflowTaskTimeout,
            };
            foreach (var a in run.Activities.Values)
            {
                response.PendingActivities.Add(ActivityDispatcher.DescribePause(a, new PendingActivityInfo
                {
                    ActivityId = a.Attributes.ActivityId,
                    ActivityType = a.Attributes.ActivityType,
                    State = a.CancelRequested
                        ? PendingActivityState.CancelRequested
                        : a.Started ? PendingActivityState.Started : PendingActivityState.Scheduled,
                    HeartbeatDetails = a.HeartbeatDetails,
                    LastHeartbeatTime = a.Started ? Timestamp.FromDateTime(a.LastHeartbeat) : null,
                    LastStartedTime = a.Started ? Timestamp.FromDateTime(a.StartedTime) : null,
                    Attempt = a.Attempt,
                    MaximumAttempts = a.Attributes.RetryPolicy.MaximumAttempts,
                    ScheduledTime = Timestamp.FromDateTime(a.CurrentAttemptScheduledTime),
                    LastFailure = a.LastFailure,
                    LastWorkerIdentity = a.StartedIdentity,
                    Priority = a.Attributes.Priority,
                }));
            }

            foreach (var c in run.Children.Values)
            {
                response.PendingChildren.Add(new PendingChildExecutionInfo
                {
                    WorkflowId = c.Attributes.WorkflowId,
                    RunId = c.RunId ?? "",
                    WorkflowTypeName = c.Attributes.WorkflowType.Name,
                    InitiatedId = c.InitiatedEventId,
                    ParentClosePolicy = c.Attributes.ParentClosePolicy,
                });
            }

            RunDetails.Describe(run, response);
            if (run.WtPending)
            {
                response.PendingWorkflowTask = new PendingWorkflowTaskInfo
                {
                    State = run.WtStarted ? PendingWorkflowTaskState.Started : PendingWorkflowTaskState.Scheduled,
                    ScheduledTime = Timestamp.FromDateTime(run.WtScheduledTime),
                    Attempt = run.WtAttempt,
                };
            }
        }

        return response;
    }
}
