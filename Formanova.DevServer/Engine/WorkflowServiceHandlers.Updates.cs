using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.ErrorDetails.V1;
using Temporalio.Api.Failure.V1;
using Temporalio.Api.Update.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

/// <summary>UpdateWorkflowExecution, PollWorkflowExecutionUpdate and update-with-start (ExecuteMultiOperation).</summary>
internal sealed partial class WorkflowServiceHandlers
{
    private const string MultiOperationMessage = "Update-with-Start could not be executed.";

    private void AddUpdateHandlers()
    {
        AddAsync<UpdateWorkflowExecutionRequest, UpdateWorkflowExecutionResponse>("UpdateWorkflowExecution", (r, context) =>
        {
            _engine.RequireNamespace(r.Namespace);
            var stage = PrepareUpdate(r);
            return UpdateAsync(r, stage, context);
        });
        AddAsync<PollWorkflowExecutionUpdateRequest, PollWorkflowExecutionUpdateResponse>("PollWorkflowExecutionUpdate", PollUpdateAsync);
        AddAsync<ExecuteMultiOperationRequest, ExecuteMultiOperationResponse>("ExecuteMultiOperation", ExecuteMultiOperationAsync);
    }

    /// <summary>Temporal's frontend checks and defaults: a missing update id is generated, UNSPECIFIED waits for COMPLETED.</summary>
    private static UpdateWorkflowExecutionLifecycleStage PrepareUpdate(UpdateWorkflowExecutionRequest r)
    {
        if (string.IsNullOrEmpty(r.WorkflowExecution?.WorkflowId))
        {
            throw Errors.InvalidArgument("WorkflowId is not set on request.");
        }

        if (r.Request?.Meta is null)
        {
            throw Errors.InvalidArgument("Update meta is not set on request.");
        }

        if (string.IsNullOrEmpty(r.Request.Meta.UpdateId))
        {
            r.Request.Meta.UpdateId = Guid.NewGuid().ToString();
        }

        if (r.Request.Input is null)
        {
            throw Errors.InvalidArgument("Update input is not set on request.");
        }

        if (string.IsNullOrEmpty(r.Request.Input.Name))
        {
            throw Errors.InvalidArgument("Update name is not set on request.");
        }

        return r.WaitPolicy?.LifecycleStage switch
        {
            null or UpdateWorkflowExecutionLifecycleStage.Unspecified => UpdateWorkflowExecutionLifecycleStage.Completed,
            UpdateWorkflowExecutionLifecycleStage.Admitted => throw new RpcException(new Status(
                StatusCode.PermissionDenied,
                "UpdateWorkflowExecution issued asynchronously and waiting on update admitted is not supported.")),
            var stage => stage.Value,
        };
    }

    /// <summary>
    /// Admits the update (or finds it by id) and waits for the stage. If the run continues as new before accepting
    /// it, the update goes to the new run, as Temporal's internal retry does, unless the request named the run.
    /// </summary>
    private async Task<UpdateWorkflowExecutionResponse> UpdateAsync(
        UpdateWorkflowExecutionRequest r,
        UpdateWorkflowExecutionLifecycleStage stage,
        ServerCallContext context,
        (WorkflowRun Run, UpdateEntry Entry)? admitted = null)
    {
        while (true)
        {
            var (run, entry) = admitted ?? Admit(r);
            admitted = null;
            try
            {
                var (reached, outcome) = await _engine.WaitForUpdateAsync(run, entry, stage, context);
                return new UpdateWorkflowExecutionResponse
                {
                    UpdateRef = new UpdateRef { WorkflowExecution = run.Execution, UpdateId = entry.Id },
                    Outcome = outcome,
                    Stage = reached,
                };
            }
            catch (UpdateRunContinuedException) when (string.IsNullOrEmpty(r.WorkflowExecution.RunId))
            {
                // The next loop finds the workflow's current run, the one it continued as.
            }
            catch (UpdateRunContinuedException)
            {
                throw Errors.NotFound("workflow execution already completed");
            }
        }
    }

    private (WorkflowRun Run, UpdateEntry Entry) Admit(UpdateWorkflowExecutionRequest r)
    {
        var run = _engine.FindRun(r.Namespace, r.WorkflowExecution);
        return (run, _engine.AdmitUpdate(run, r.Request, r.FirstExecutionRunId));
    }

    private async Task<PollWorkflowExecutionUpdateResponse> PollUpdateAsync(PollWorkflowExecutionUpdateRequest r, ServerCallContext context)
    {
        _engine.RequireNamespace(r.Namespace);
        if (r.UpdateRef is null)
        {
            throw Errors.InvalidArgument("UpdateRef is not set on request.");
        }

        var run = _engine.FindRun(r.Namespace, r.UpdateRef.WorkflowExecution);
        var entry = WorkflowEngine.FindUpdate(run, r.UpdateRef.UpdateId);
        try
        {
            // UNSPECIFIED (and ADMITTED) answer at once with the stage reached.
            var (reached, outcome) = await _engine.WaitForUpdateAsync(
                run,
                entry,
                r.WaitPolicy?.LifecycleStage ?? UpdateWorkflowExecutionLifecycleStage.Unspecified,
                context);
            return new PollWorkflowExecutionUpdateResponse
            {
                UpdateRef = new UpdateRef { WorkflowExecution = run.Execution, UpdateId = entry.Id },
                Outcome = outcome,
                Stage = reached,
            };
        }
        catch (UpdateRunContinuedException)
        {
            throw Errors.NotFound($"update \"{entry.Id}\" not found");
        }
    }

    // ---- Update-with-start ----

    /// <summary>
    /// Exactly [StartWorkflow, UpdateWorkflow], as Temporal allows today. The update goes to the running workflow
    /// when the start is a duplicate (same request id), the update id is already known, or the conflict policy is
    /// USE_EXISTING; otherwise a new run is started with the update admitted before its first task is handed out.
    /// Errors come back as MultiOperationExecutionFailure, one status per operation (the other one "aborted").
    /// </summary>
    private async Task<ExecuteMultiOperationResponse> ExecuteMultiOperationAsync(ExecuteMultiOperationRequest r, ServerCallContext context)
    {
        _engine.RequireNamespace(r.Namespace);
        if (r.Operations.Count != 2 || r.Operations[0].StartWorkflow is null || r.Operations[1].UpdateWorkflow is null)
        {
            throw Errors.InvalidArgument("Operations have to be exactly [Start, Update].");
        }

        var start = r.Operations[0].StartWorkflow;
        var update = r.Operations[1].UpdateWorkflow;
        var startError = Capture(() => ValidateStartOperation(r.Namespace, start));
        var updateError = Capture(() => ValidateUpdateOperation(r.Namespace, update));
        if (startError is null && updateError is null && update.WorkflowExecution.WorkflowId != start.WorkflowId)
        {
            updateError = Errors.InvalidArgument("WorkflowId is not consistent with previous operation(s).");
        }

        if (startError is not null || updateError is not null)
        {
            throw MultiOperationFailure(startError, updateError);
        }

        update.Namespace = r.Namespace;
        var stage = PrepareUpdate(update);
        var (startResponse, admitted) = StartOrAttach(r.Namespace, start, update);
        try
        {
            var updateResponse = await UpdateAsync(update, stage, context, admitted);
            return new ExecuteMultiOperationResponse
            {
                Responses =
                {
                    new ExecuteMultiOperationResponse.Types.Response { StartWorkflow = startResponse },
                    new ExecuteMultiOperationResponse.Types.Response { UpdateWorkflow = updateResponse },
                },
            };
        }
        catch (RpcException e)
        {
            // A start that took effect is reported OK; one that attached to the running workflow, aborted.
            throw MultiOperationFailure(null, e, startSucceeded: startResponse.Started);
        }
    }

    private (StartWorkflowExecutionResponse Start, (WorkflowRun Run, UpdateEntry Entry) Admitted) StartOrAttach(
        string ns,
        StartWorkflowExecutionRequest start,
        UpdateWorkflowExecutionRequest update)
    {
        try
        {
            // A known update id (in flight or completed) attaches to that update whatever the policies say.
            var current = TryFindRun(ns, start.WorkflowId);
            if (current is not null && WorkflowEngine.HasUpdate(current, update.Request.Meta.UpdateId))
            {
                var known = Admit(update);
                return (StartResponse(known.Run, started: false), known);
            }

            UpdateEntry? entry = null;
            var p = StartParamsOf(ns, start) with
            {
                // Admitted before the first task is handed out, so that task carries it.
                OnCreated = (run, after) => entry = _engine.AdmitUpdateOnNewRun(run, update.Request, after),
            };
            StartOutcome outcome;
            try
            {
                outcome = _engine.StartWorkflow(p);
            }
            catch (RpcException e)
            {
                throw MultiOperationFailure(e, null);
            }

            if (outcome.Started && entry is not null)
            {
                return (StartResponse(outcome.Run, started: true), (outcome.Run, entry));
            }

            // A duplicate start (same request id) or USE_EXISTING: the update goes to the running workflow.
            return (StartResponse(outcome.Run, started: false), (outcome.Run, _engine.AdmitUpdate(outcome.Run, update.Request, "")));
        }
        catch (RpcException e) when (!IsMultiOperationFailure(e))
        {
            throw MultiOperationFailure(null, e);
        }
    }

    private WorkflowRun? TryFindRun(string ns, string workflowId)
    {
        try
        {
            return _engine.FindRun(ns, new Temporalio.Api.Common.V1.WorkflowExecution { WorkflowId = workflowId });
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return null;
        }
    }

    private static StartWorkflowExecutionResponse StartResponse(WorkflowRun run, bool started)
    {
        lock (run.Gate)
        {
            return new StartWorkflowExecutionResponse { RunId = run.RunId, Started = started, Status = run.Status };
        }
    }

    private void ValidateStartOperation(string ns, StartWorkflowExecutionRequest start)
    {
        if (start.Namespace.Length > 0 && start.Namespace != ns)
        {
            throw Errors.InvalidArgument("Operation namespace did not match request's namespace.");
        }

        if (start.CronSchedule.Length > 0)
        {
            throw Errors.InvalidArgument("CronSchedule is not allowed.");
        }

        if (start.RequestEagerExecution)
        {
            throw Errors.InvalidArgument("RequestEagerExecution is not supported.");
        }

        if (start.WorkflowStartDelay is { } delay && delay.ToTimeSpan() > TimeSpan.Zero)
        {
            throw Errors.InvalidArgument("WorkflowStartDelay is not supported.");
        }

        StartParamsOf(ns, start);
    }

    private StartParams StartParamsOf(string ns, StartWorkflowExecutionRequest start) =>
        ToStartParams(ns, start.WorkflowId, start.WorkflowType, start.TaskQueue, start.Input, start.WorkflowExecutionTimeout,
            start.WorkflowRunTimeout, start.WorkflowTaskTimeout, start.Identity, start.RequestId, start.WorkflowIdReusePolicy,
            start.WorkflowIdConflictPolicy, start.RetryPolicy, start.CronSchedule, start.Memo, start.SearchAttributes, start.Header,
            null, null);

    private static void ValidateUpdateOperation(string ns, UpdateWorkflowExecutionRequest update)
    {
        if (update.Namespace.Length > 0 && update.Namespace != ns)
        {
            throw Errors.InvalidArgument("Operation namespace did not match request's namespace.");
        }

        PrepareUpdate(update);
        if (update.FirstExecutionRunId.Length > 0)
        {
            throw Errors.InvalidArgument("FirstExecutionRunId is not allowed.");
        }

        if (update.WorkflowExecution.RunId.Length > 0)
        {
            throw Errors.InvalidArgument("RunId is not allowed.");
        }
    }

    private static RpcException? Capture(Action validate)
    {
        try
        {
            validate();
            return null;
        }
        catch (RpcException e)
        {
            return e;
        }
    }

    private static bool IsMultiOperationFailure(RpcException e) =>
        StatusDetail(e) is { } detail && detail.Is(MultiOperationExecutionFailure.Descriptor);

    /// <summary>
    /// Temporal's MultiOperationExecution error: the status code of the first operation that failed, and one status
    /// per operation in the detail; an operation that did not fail is OK (it took effect) or aborted (it did not).
    /// </summary>
    private static RpcException MultiOperationFailure(RpcException? startError, RpcException? updateError, bool startSucceeded = false)
    {
        var failure = new MultiOperationExecutionFailure();
        failure.Statuses.Add(OperationStatus(startError, startSucceeded));
        failure.Statuses.Add(OperationStatus(updateError, succeeded: false));
        var code = (startError ?? updateError)?.StatusCode ?? StatusCode.Aborted;
        return Errors.WithDetail(code, MultiOperationMessage, failure);
    }

    private static MultiOperationExecutionFailure.Types.OperationStatus OperationStatus(RpcException? error, bool succeeded)
    {
        if (error is null)
        {
            return succeeded
                ? new MultiOperationExecutionFailure.Types.OperationStatus { Code = (int)StatusCode.OK }
                : new MultiOperationExecutionFailure.Types.OperationStatus
                {
                    Code = (int)StatusCode.Aborted,
                    Message = "Operation was aborted.",
                    Details = { Any.Pack(new MultiOperationExecutionAborted()) },
                };
        }

        var status = new MultiOperationExecutionFailure.Types.OperationStatus
        {
            Code = (int)error.StatusCode,
            Message = error.Status.Detail,
        };
        if (StatusDetail(error) is { } detail)
        {
            status.Details.Add(detail);
        }

        return status;
    }

    /// <summary>
    /// The typed detail <see cref="Errors"/> writes into the grpc-status-details-bin trailer (google.rpc.Status, field 3).
    /// </summary>
    private static Any? StatusDetail(RpcException e)
    {
        var bytes = e.Trailers.GetValueBytes("grpc-status-details-bin");
        if (bytes is null)
        {
            return null;
        }

        var input = new CodedInputStream(bytes);
        while (input.ReadTag() is var tag and not 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == 3)
            {
                var any = new Any();
                input.ReadMessage(any);
                return any;
            }

            input.SkipLastField();
        }

        return null;
    }
}
