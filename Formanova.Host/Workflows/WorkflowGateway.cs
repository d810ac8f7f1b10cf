using System.Linq.Expressions;
using System.Security.Cryptography;
using System.Text.Json;
using Formanova.Host.Temporal;
using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Options;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows;

/// <summary>What the REST endpoints need from Temporal: starting idempotently, describing, listing, signalling.</summary>
internal sealed class WorkflowGateway(
    ITemporalClient client,
    IDataModule data,
    IOptions<TemporalOptions> temporal,
    IOptions<WorkflowsOptions> workflows,
    TimeProvider time)
{
    public ITemporalClient Client => client;

    public WorkflowsOptions Options => workflows.Value;

    public RpcOptions Rpc(CancellationToken cancellationToken) =>
        new() { Timeout = TimeSpan.FromSeconds(temporal.Value.RpcTimeoutSeconds), CancellationToken = cancellationToken };

    /// <summary>The configured retry policy and step timeouts, frozen into the run's input.</summary>
    public StepPolicy Policy()
    {
        var o = workflows.Value;
        var timeouts = new StepTimeouts(
            Validate: o.Timeouts.ValidateSeconds,
            Inference: o.Timeouts.InferenceSeconds,
            Prepare: o.Timeouts.PrepareSeconds,
            External: o.Timeouts.ExternalSeconds,
            Aggregate: o.Timeouts.AggregateSeconds,
            Persist: o.Timeouts.PersistSeconds,
            Emit: o.Timeouts.EmitSeconds,
            TrainPrepare: o.Training.PrepareTimeoutSeconds,
            Train: o.Training.TrainTimeoutSeconds,
            TrainHeartbeat: o.Training.HeartbeatTimeoutSeconds,
            Chunk: o.Batch.ChunkTimeoutSeconds);
        return new StepPolicy(
            o.Retry.InitialIntervalSeconds,
            o.Retry.BackoffCoefficient,
            o.Retry.MaximumIntervalSeconds,
            o.Retry.MaximumAttempts,
            timeouts);
    }

    /// <summary>
    /// The workflow id of a start. With an Idempotency-Key (<see cref="IdempotencyKey"/>) the id is derived from the
    /// caller and the key, and the request is claimed under it, so a repeated POST lands on the same run and the
    /// same key with another request is a 409. Without one the id is random.
    /// </summary>
    public async Task<string> StartIdAsync(string prefix, HttpContext http, string requestHash, CancellationToken cancellationToken)
    {
        if (IdempotencyKey.Read(http) is not { } key)
        {
            return $"{prefix}-{Guid.NewGuid():N}";
        }

        var id = key.Scoped(prefix);
        await ClaimAsync(id, requestHash, cancellationToken);
        return id;
    }

    public static string HashOf<T>(T body) => Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(body)));

    /// <summary>
    /// Claims the workflow id for this request body. The first claim wins (the Data module keeps a succeeded
    /// result unchanged), so the same key with another body is a 409 whether or not the run still exists.
    /// </summary>
    private async Task ClaimAsync(string workflowId, string requestHash, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var stored = await data.RecordResultAsync(
            new RecordResultRequest(
                workflowId,
                "request",
                ResultStatus.Succeeded,
                now,
                now,
                workflowId,
                Input: WorkflowJson.Element(new { requestHash })),
            cancellationToken);
        var first = stored.Input is { ValueKind: JsonValueKind.Object } input && input.TryGetProperty("requestHash", out var hash)
            ? hash.GetString()
            : null;
        if (first != requestHash)
        {
            throw IdempotencyKey.Conflict();
        }
    }

    /// <summary>Starts the run, or returns the existing one with this id (running or closed): never a second run.</summary>
    public async Task<WorkflowHandle<TWorkflow, TResult>> StartAsync<TWorkflow, TResult>(
        string id,
        Expression<Func<TWorkflow, Task<TResult>>> run,
        CancellationToken cancellationToken)
    {
        try
        {
            var options = StartOptions(id, Rpc(cancellationToken));

            // The first workflow task comes back in the start response when this process runs a worker with a free
            // slot on the queue: a poll round trip fewer per request. Without one the SDK does not ask.
            options.RequestEagerStart = true;
            return await client.StartWorkflowAsync(run, options);
        }
        catch (WorkflowAlreadyStartedException)
        {
            return client.GetWorkflowHandle<TWorkflow, TResult>(id);
        }
    }

    /// <summary>
    /// Starts the run together with an update (Temporal's update-with-start, one request) and waits for the
    /// update's outcome, within <paramref name="rpc"/>'s cancellation. A running run with this id gets the update
    /// instead (never a second run), and the fixed <paramref name="updateId"/> makes a repeat attach to the same
    /// update; a closed run has nothing left to update, so its result is what the caller gets.
    /// </summary>
    public async Task<TResult> StartWithUpdateAsync<TWorkflow, TResult>(
        string id,
        Expression<Func<TWorkflow, Task<TResult>>> run,
        Expression<Func<TWorkflow, Task<TResult>>> update,
        string updateId,
        RpcOptions rpc)
    {
        // No eager start here: Temporal refuses it inside a multi-operation request.
        // The SDK takes the RPC options from the update's options only.
        var start = WithStartWorkflowOperation.Create(run, StartOptions(id, null));
        try
        {
            return await client.ExecuteUpdateWithStartWorkflowAsync(
                update,
                new WorkflowUpdateWithStartOptions(updateId, start) { Rpc = rpc });
        }
        catch (WorkflowAlreadyStartedException)
        {
            return await client.GetWorkflowHandle<TWorkflow, TResult>(id).GetResultAsync(rpcOptions: rpc);
        }
    }

    private WorkflowOptions StartOptions(string id, RpcOptions? rpc) => new(id, temporal.Value.TaskQueue)
    {
        IdReusePolicy = WorkflowIdReusePolicy.RejectDuplicate,
        IdConflictPolicy = WorkflowIdConflictPolicy.UseExisting,
        Rpc = rpc,
    };

    /// <summary>
    /// The run's description, or NotFound when no run has this id or it is another kind of workflow (then the answer
    /// names the path that serves it).
    /// </summary>
    private async Task<WorkflowExecutionDescription> DescribeAsync(string id, string? workflowType, CancellationToken cancellationToken)
    {
        try
        {
            var description = await client.GetWorkflowHandle(id)
                .DescribeAsync(new WorkflowDescribeOptions { Rpc = Rpc(cancellationToken) });
            if (workflowType is not null && description.WorkflowType != workflowType)
            {
                var kind = WorkflowLocations.KindOf(description.WorkflowType, id);
                throw new ModuleException(
                    ErrorKind.NotFound,
                    $"'{id}' is a {kind} run, not a {workflowType}: read it at {WorkflowLocations.PathOf(description.WorkflowType, id)}.");
            }

            return description;
        }
        catch (RpcException ex) when (ex.Code == RpcException.StatusCode.NotFound)
        {
            throw ModuleException.NotFound(workflowType ?? "Job", id);
        }
    }

    /// <summary>The description of a run of any type (GET /jobs/{id} answers for every kind), or NotFound.</summary>
    public Task<WorkflowExecutionDescription> DescribeAnyAsync(string id, CancellationToken cancellationToken) =>
        DescribeAsync(id, null, cancellationToken);

    /// <summary>The run's description, or NotFound when no run has this id or it is not a <typeparamref name="TWorkflow"/>.</summary>
    public Task<WorkflowExecutionDescription> DescribeAsync<TWorkflow>(string id, CancellationToken cancellationToken) =>
        DescribeAsync(id, WorkflowName<TWorkflow>.Value, cancellationToken);

    /// <summary>
    /// Signals a run that must still be running, through the workflow's own <c>[WorkflowSignal]</c> method (its name
    /// and argument types come from the method); a closed run is a 409.
    /// </summary>
    public async Task SignalAsync<TWorkflow>(string id, Expression<Func<TWorkflow, Task>> signal, CancellationToken cancellationToken)
    {
        var name = WorkflowSignalDefinition.FromMethod(((MethodCallExpression)signal.Body).Method).Name;
        await RunningAsync<TWorkflow>(id, name, cancellationToken);
        try
        {
            await client.GetWorkflowHandle<TWorkflow>(id).SignalAsync(signal, new WorkflowSignalOptions { Rpc = Rpc(cancellationToken) });
        }
        catch (RpcException ex) when (ex.Code is RpcException.StatusCode.NotFound or RpcException.StatusCode.FailedPrecondition)
        {
            // It closed between the describe and the signal.
            throw ClosedSince(id, name);
        }
    }

    /// <summary>
    /// Sends an update to a run that must still be running, through the workflow's own <c>[WorkflowUpdate]</c>
    /// method, and waits for its outcome. A closed run is a 409; a change the workflow's validator refuses (an
    /// InvalidInput failure with the reasons per field) is a 400 naming the fields, and nothing is recorded for it.
    /// </summary>
    public async Task<TResult> UpdateAsync<TWorkflow, TResult>(
        string id,
        Expression<Func<TWorkflow, Task<TResult>>> update,
        CancellationToken cancellationToken)
    {
        var name = WorkflowUpdateDefinition.FromMethod(((MethodCallExpression)update.Body).Method).Name;
        await RunningAsync<TWorkflow>(id, name, cancellationToken);
        try
        {
            return await client.GetWorkflowHandle<TWorkflow>(id)
                .ExecuteUpdateAsync(update, new WorkflowUpdateOptions { Rpc = Rpc(cancellationToken) });
        }
        catch (WorkflowUpdateFailedException ex) when (ActivityErrors.Application(ex) is { ErrorType: ErrorTypes.InvalidInput } app)
        {
            var errors = app.Details.Count > 0 ? app.Details.ElementAt<Dictionary<string, string[]>>(0) : [];
            throw new ModuleException(ErrorKind.Invalid, app.Message, errors);
        }
        catch (RpcException ex) when (ex.Code is RpcException.StatusCode.NotFound or RpcException.StatusCode.FailedPrecondition)
        {
            throw ClosedSince(id, name);
        }
    }

    private async Task RunningAsync<TWorkflow>(string id, string? name, CancellationToken cancellationToken)
    {
        var description = await DescribeAsync<TWorkflow>(id, cancellationToken);
        if (description.Status != WorkflowExecutionStatus.Running)
        {
            throw new ModuleException(
                ErrorKind.Conflict,
                $"'{id}' is {StatusName(description.Status)}; only a running workflow accepts '{name}'.");
        }
    }

    private static ModuleException ClosedSince(string id, string? name) =>
        new(ErrorKind.Conflict, $"'{id}' has closed; only a running workflow accepts '{name}'.");

    /// <summary>Requests Temporal's cancellation of a run that must still be running; a closed one is a 409.</summary>
    public async Task CancelAsync<TWorkflow>(string id, CancellationToken cancellationToken)
    {
        var description = await DescribeAsync<TWorkflow>(id, cancellationToken);
        if (description.Status != WorkflowExecutionStatus.Running)
        {
            throw new ModuleException(
                ErrorKind.Conflict,
                $"'{id}' is {StatusName(description.Status)}; only a running workflow can be cancelled.");
        }

        await RequestCancelAsync(id, cancellationToken);
    }

    /// <summary>
    /// Temporal's cancel request, for a run already checked to be running. Should it have closed since, there is
    /// nothing left to cancel: current servers answer success, older ones NotFound ("already completed").
    /// </summary>
    public async Task RequestCancelAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            await client.GetWorkflowHandle(id).CancelAsync(new WorkflowCancelOptions { Rpc = Rpc(cancellationToken) });
        }
        catch (RpcException ex) when (ex.Code == RpcException.StatusCode.NotFound)
        {
        }
    }

    /// <summary>The last heartbeat details of a pending activity of the run, or default when there are none.</summary>
    public async Task<T?> PendingHeartbeatAsync<T>(string id, string activityType, CancellationToken cancellationToken)
    {
        var response = await client.WorkflowService.DescribeWorkflowExecutionAsync(
            new Temporalio.Api.WorkflowService.V1.DescribeWorkflowExecutionRequest
            {
                Namespace = client.Options.Namespace,
                Execution = new Temporalio.Api.Common.V1.WorkflowExecution { WorkflowId = id },
            },
            Rpc(cancellationToken));
        var pending = response.PendingActivities.FirstOrDefault(a => a.ActivityType.Name == activityType);
        return pending?.HeartbeatDetails?.Payloads_.Count > 0
            ? (T?)Temporalio.Converters.DataConverter.Default.PayloadConverter.ToValue(pending.HeartbeatDetails.Payloads_[0], typeof(T))
            : default;
    }

    /// <summary>
    /// Queries a running workflow through its own <c>[WorkflowQuery]</c> method; default when it is closed or no
    /// longer answers (e.g. no worker).
    /// </summary>
    public async Task<T?> TryQueryAsync<TWorkflow, T>(string id, Expression<Func<TWorkflow, T>> query, CancellationToken cancellationToken)
    {
        try
        {
            return await client.GetWorkflowHandle<TWorkflow>(id)
                .QueryAsync(query, new WorkflowQueryOptions { Rpc = Rpc(cancellationToken) });
        }
        catch (Exception ex) when (ex is RpcException or WorkflowQueryFailedException or WorkflowQueryRejectedException)
        {
            return default;
        }
    }

    /// <summary>
    /// One page of runs through Temporal visibility, newest first. The page token is Temporal's own next_page_token
    /// (a keyset position on the server, so runs started between pages neither shift nor repeat later pages), prefixed
    /// with a hash of the query so that a token is only accepted by the listing that issued it.
    /// </summary>
    public async Task<(IReadOnlyCollection<WorkflowExecution> Items, string? NextPageToken)> ListAsync(
        string query,
        string? pageToken,
        int pageSize,
        CancellationToken cancellationToken)
    {
        var token = ListToken.Decode(query, pageToken);
        try
        {
            var page = await client.ListWorkflowsPaginatedAsync(
                query,
                token,
                new WorkflowListPaginatedOptions { PageSize = pageSize, Rpc = Rpc(cancellationToken) });
            return (page.Workflows, ListToken.Encode(query, page.NextPageToken));
        }
        catch (RpcException ex) when (ex.Code == RpcException.StatusCode.InvalidArgument && token is not null)
        {
            // The prefix matched but the server cannot read the rest (altered, or from an older server).
            throw ListToken.Invalid();
        }
    }

    public static string StatusName(WorkflowExecutionStatus status) => status switch
    {
        WorkflowExecutionStatus.Running or WorkflowExecutionStatus.ContinuedAsNew => "running",
        WorkflowExecutionStatus.Completed => "completed",
        WorkflowExecutionStatus.Failed => "failed",
        WorkflowExecutionStatus.Canceled => "cancelled",
        WorkflowExecutionStatus.Terminated => "terminated",
        WorkflowExecutionStatus.TimedOut => "timedOut",
        _ => "unknown",
    };

    public static WorkflowExecutionStatus? ParseStatus(string? status) => status?.ToLowerInvariant() switch
    {
        null or "" => null,
        "running" or "paused" => WorkflowExecutionStatus.Running,
        "completed" => WorkflowExecutionStatus.Completed,
        "failed" => WorkflowExecutionStatus.Failed,
        "cancelled" or "canceled" => WorkflowExecutionStatus.Canceled,
        "terminated" => WorkflowExecutionStatus.Terminated,
        "timedout" => WorkflowExecutionStatus.TimedOut,
        _ => throw ModuleException.Invalid("status", "status must be one of running, completed, failed, cancelled, terminated, timedOut."),
    };

    /// <summary>The workflow type name Temporal knows <typeparamref name="TWorkflow"/> by, read once from its attribute.</summary>
    private static class WorkflowName<TWorkflow>
    {
        public static readonly string Value = WorkflowDefinition.Create<TWorkflow>().Name!;
    }
}
