using System.ComponentModel;
using System.Text.Json;
using FluentValidation;
using Formanova.Host.Temporal;
using Formanova.Host.Workflows.Common;
using Formanova.Host.Workflows.Processing;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Exceptions;

namespace Formanova.Host.Workflows.Api;

/// <summary>A processing request: a prediction with optional enrichment (dataset + entity) and an optional external call.</summary>
internal sealed record ProcessingBody(
    string? Model = null,
    Dictionary<string, JsonElement>? Inputs = null,
    string? Version = null,
    string? Alias = null,
    long? DatasetId = null,
    string? EntityId = null,
    bool CallExternal = false,
    bool StartPaused = false,
    ProcessingParams? Params = null,
    bool Strict = false);

internal sealed record ParamsPatch(double? DecisionThreshold = null, int? RoundDigits = null, bool? UseCache = null);

/// <summary>The optional body of <c>POST /jobs/{id}/cancel</c>.</summary>
internal sealed record CancelBody(string? Reason = null);

internal sealed record JobAccepted(string Id, string Status, string Location);

/// <summary>
/// A job as the API shows it: live stage and progress while running, the stored result once closed. GET /jobs/{id}
/// answers with it for every kind of run; <see cref="Location"/> is the kind's own path, with the kind's full view
/// and its actions (itself for a processing job).
/// </summary>
internal sealed record JobView(
    string Id,
    string Type,
    string Status,
    string? Stage,
    double? ProgressPercent,
    DateTime? StartedAt,
    DateTime? EstimatedCompletion,
    DateTime? ClosedAt,
    bool Paused,
    ProcessingParams? Params,
    JsonElement? Result,
    string? Error,
    IReadOnlyList<ErrorRecord> Errors,
    string Location);

/// <summary>
/// One listed job; <see cref="Location"/> is where its type is read (training runs, batch jobs and promotions have their own paths).
/// </summary>
internal sealed record JobSummary(string Id, string Type, string Status, DateTime StartedAt, DateTime? ClosedAt, string Location);

/// <summary>A page of the job listing; <see cref="NextPageToken"/> is null on the last page.</summary>
internal sealed record JobPage(IReadOnlyList<JobSummary> Items, string? NextPageToken);

internal static class ProcessingEndpoints
{
    private const int MaxPageSize = 500;
    private static readonly RequiredScopeMetadata PredictScope = new(ApiScopes.Predict);

    private const string ExampleJobId = "job-45c48cce2e2d7fbdea1afc51c7c6ad26";
    private const string ExamplePredictionId = "prediction-6512bd43d9caa6e02c990b0a82652dca";

    private static readonly ProcessingBody ExampleBody = new(
        "churn",
        new()
        {
            ["tenure"] = JsonSerializer.SerializeToElement(12),
            ["monthlyCharges"] = JsonSerializer.SerializeToElement(70.35),
            ["contract"] = JsonSerializer.SerializeToElement("Month-to-month"),
        },
        Params: new ProcessingParams(0.6));

    private static readonly ProcessingOutput ExampleOutput = new(
        ExamplePredictionId,
        "prediction",
        "churn",
        "1.2.0",
        "true",
        null,
        1.8437,
        new() { ["true"] = 0.8213, ["false"] = 0.1787 },
        "positive",
        false,
        null,
        null,
        ExampleBody.Inputs!,
        null,
        [],
        null,
        [],
        new DateTime(2026, 11, 27, 9, 11, 58, 120, DateTimeKind.Utc),
        new DateTime(2026, 11, 27, 9, 11, 58, 164, DateTimeKind.Utc),
        [],
        "019aeb2c-61d0-7c3e-9f57-2b1f0c4e8a13");

    private static readonly JobAccepted ExampleJobAccepted = new(ExampleJobId, "accepted", $"/api/v1/jobs/{ExampleJobId}");

    private static readonly JobView ExampleJobView = new(
        ExampleJobId,
        "job",
        "completed",
        "completed",
        100,
        new DateTime(2026, 11, 27, 9, 12, 4, DateTimeKind.Utc),
        null,
        new DateTime(2026, 11, 27, 9, 12, 5, DateTimeKind.Utc),
        false,
        null,
        WorkflowJson.Element(ExampleOutput with { JobId = ExampleJobId, Kind = "job" }),
        null,
        [],
        $"/api/v1/jobs/{ExampleJobId}");

    public static IEndpointRouteBuilder MapProcessingEndpoints(this IEndpointRouteBuilder api)
    {
        api.MapPost("/predictions", PredictAsync).WithTags("Predictions").WithName("PredictSync").WithMetadata(PredictScope)
            .WithIdempotencyKey()
            .WithSummary("Predict through a processing workflow")
            .WithDescription(
                "Starts a **ProcessingWorkflow** for one row and waits up to `Workflows:SyncTimeoutSeconds` for it: "
                + "validation against the version's input contract, optional enrichment from a dataset's stored row "
                + "(`datasetId` + `entityId`: the stored features fill the inputs not given), inference on the active "
                + "version (or `version` or `alias`), falling back to the previous stable version if it keeps failing, "
                + "an optional external call (`callExternal`), then post-processing with `params` (binary decision at "
                + "`decisionThreshold`, numbers rounded to `roundDigits`). Answers **200** with the result (its `predictionId` "
                + "is what `POST /feedback` takes; `entityId` is logged with it) when the run "
                + "finishes in time, else **202** with `Location: /api/v1/jobs/{id}` to poll.\n\n"
                + "A malformed request, or inputs that do not match the version's input contract, is a 400 before any "
                + "run starts. A run that fails answers with the run's problem: 422 for its own validation (with the "
                + "reasons per field) or a failure that retrying cannot fix, 409 when it was cancelled, 503 when a "
                + "dependency stayed unavailable; each carries `jobId` and `instance: /api/v1/jobs/{id}`, where the "
                + "stored error history is.\n\n"
                + "**Idempotency:** with an `Idempotency-Key` a repeat lands on the same run (and its result); the same "
                + "key with another body is a 409.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .WithRequestExample(ExampleBody)
            .WithResponseExample(ExampleOutput)
            .WithResponseExample(new JobAccepted(ExamplePredictionId, "accepted", $"/api/v1/jobs/{ExamplePredictionId}"), 202);

        var jobs = api.MapGroup("/jobs").WithTags("Jobs");
        jobs.MapPost("/", SubmitAsync).WithName("SubmitJob").WithMetadata(PredictScope).WithIdempotencyKey()
            .WithSummary("Submit a processing job")
            .WithDescription(
                "Starts the same **ProcessingWorkflow** as `POST /predictions` and answers **202** at once with "
                + "`Location: /api/v1/jobs/{id}` to poll. With `startPaused` the run waits for `POST /jobs/{id}/resume` "
                + "before its first stage. Inputs that do not match the version's input contract are a 400 before any "
                + "run starts; the run's own failures are on the job (`error`, `errors`). **Idempotency:** with an "
                + "`Idempotency-Key` a repeat returns the same job; the same key with another body is a 409.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithRequestExample(ExampleBody with { StartPaused = true })
            .WithResponseExample(ExampleJobAccepted, StatusCodes.Status202Accepted);
        jobs.MapGet("/", ListAsync).WithName("ListJobs")
            .WithSummary("List jobs")
            .WithDescription(
                "Runs of one kind (`type`, processing jobs by default) through Temporal visibility, newest first, "
                + "optionally with one `status`. Each item's `location` is the path that reads it. To page, pass "
                + "`nextPageToken` back as `pageToken` with the same filters; it is null on the last page. The token is "
                + "opaque and bound to the filters: a garbled one, or one reused with other filters, is a 400 naming "
                + "`pageToken`. Runs started while a client pages neither shift nor repeat its later pages.")
            .ProducesValidationProblem()
            .WithResponseExample(new JobPage(
                [
                    new JobSummary(ExampleJobId, "job", "running", new DateTime(2026, 11, 27, 9, 12, 4, DateTimeKind.Utc), null,
                        $"/api/v1/jobs/{ExampleJobId}"),
                    new JobSummary(ExamplePredictionId, "prediction", "completed", new DateTime(2026, 11, 27, 9, 11, 58, DateTimeKind.Utc),
                        new DateTime(2026, 11, 27, 9, 11, 58, DateTimeKind.Utc), $"/api/v1/jobs/{ExamplePredictionId}"),
                ],
                "q83vEjRWeJAKEgoQY2h1cm4tam9iLTAwMDAx"));
        jobs.MapGet("/{id}", GetAsync).WithName("GetJob")
            .WithSummary("Get a job")
            .WithDescription(
                "Any run the job listing shows, by id: processing jobs and predictions, training runs, batch jobs and "
                + "promotions, with the same fields for each. While it runs: live `stage`, `progressPercent`, "
                + "`estimatedCompletion`, `paused`, `params` and the error history so far; once closed: `result` (when "
                + "it completed), `error` and the stored error history `errors`. `location` is the kind's own path, "
                + "where its full view and its actions are (itself for a processing job). Not a redirect, so one poll "
                + "loop follows any job. 404 when no job has this id.")
            .WithResponseExample(ExampleJobView);
        jobs.MapPost("/{id}/pause", (string id, WorkflowGateway gateway, CancellationToken ct) =>
                gateway.SignalRunAsync<ProcessingWorkflow>(id, wf => wf.PauseAsync(), ct))
            .WithName("PauseJob")
            .WithMetadata(PredictScope)
            .WithSummary("Pause a job")
            .WithDescription("Sends the `pause` signal: the job stops at its next stage boundary and shows `paused` until "
                + "resumed. Answers 204; a closed job is a 409, and a run of another kind a 404 naming its path.")
            .ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapPost("/{id}/resume", (string id, WorkflowGateway gateway, CancellationToken ct) =>
                gateway.SignalRunAsync<ProcessingWorkflow>(id, wf => wf.ResumeAsync(), ct))
            .WithName("ResumeJob")
            .WithMetadata(PredictScope)
            .WithSummary("Resume a job")
            .WithDescription("Sends the `resume` signal: a paused (or `startPaused`) job continues. Answers 204; a closed "
                + "job is a 409, and a run of another kind a 404 naming its path.")
            .ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapPost("/{id}/cancel", CancelAsync).WithName("CancelJob").WithMetadata(PredictScope)
            .WithSummary("Cancel a job")
            .WithDescription(
                "Sends the `cancel` signal with the optional `reason` (at most 500 characters) and the caller's API key "
                + "name, then requests Temporal's cancellation: the run stops at once, stores its result as cancelled "
                + "with the reason (also in the error history), emits WORKFLOW_FAILED and closes `cancelled`; a waiting "
                + "`POST /predictions` answers 409. Answers 202 with `Location` to poll; a closed job is a 409, and a "
                + "run of another kind a 404 naming its path.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithRequestExample(new CancelBody("Customer record corrected; scoring again."))
            .WithResponseExample(ExampleJobAccepted with { Status = "cancelling" }, StatusCodes.Status202Accepted);
        jobs.MapPatch("/{id}/params", PatchParamsAsync).WithName("UpdateJobParams").WithMetadata(PredictScope)
            .WithSummary("Change a running job's parameters")
            .WithDescription(
                "Sends the `set_params` workflow update: the values given (`decisionThreshold` 0–1, `roundDigits` 0–15, "
                + "`useCache`) replace the job's current ones, the others are kept, and apply to the stages still to run. "
                + "The run's validator refuses, with a 400 naming each field and nothing recorded, a value out of range and "
                + "a value the run has already used: any parameter once post-processing has begun (or the run is "
                + "failing), `useCache` once inference has started. Answers 200 with the job as `GET /jobs/{id}` shows "
                + "it, the new params applied; a closed job is a 409, and a run of another kind a 404 naming its path.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithRequestExample(new ParamsPatch(DecisionThreshold: 0.65))
            .WithResponseExample(ExampleJobView with
            {
                Status = "paused",
                Stage = "paused (aggregating)",
                ProgressPercent = 30,
                EstimatedCompletion = null,
                ClosedAt = null,
                Paused = true,
                Params = new ProcessingParams(0.65),
                Result = null,
            });
        return api;
    }

    private static async Task<Results<Ok<ProcessingOutput>, Accepted<JobAccepted>, ProblemHttpResult>> PredictAsync(
        ProcessingBody body, HttpContext http, WorkflowGateway gateway, CancellationToken ct)
    {
        var (id, request) = await RequestAsync("prediction", "prediction", body, http, gateway, ct);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(TimeSpan.FromSeconds(gateway.Options.SyncTimeoutSeconds));
        try
        {
            var output = await AnswerAsync(id, request, gateway, wait.Token, ct);
            return TypedResults.Ok(output);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WorkflowUpdateRpcTimeoutOrCanceledException
            && !ct.IsCancellationRequested)
        {
            // The wait ran out (the update's own call says so with its own exception): the run goes on.
            return Accepted(id);
        }
        catch (RpcException ex) when (ex.Code is RpcException.StatusCode.Cancelled or RpcException.StatusCode.DeadlineExceeded
            or RpcException.StatusCode.Unavailable && !ct.IsCancellationRequested)
        {
            // The run exists (Temporal lost mid-wait included): a 503 would invite a retry that starts a second one.
            return Accepted(id);
        }
        catch (Exception ex) when (ex is WorkflowFailedException or WorkflowUpdateFailedException)
        {
            // The run is stored like any job's: the caller can read its error history there.
            var problem = Failure(ex.InnerException ?? ex);
            problem.Instance = $"/api/v1/jobs/{id}";
            problem.Extensions["jobId"] = id;
            return TypedResults.Problem(problem);
        }
    }

    /// <summary>
    /// The prediction's output in the configured shape (<see cref="WorkflowsOptions.SyncAnswer"/>): early, through the
    /// run's await_answer update started with it, or the run's result once it has persisted and emitted. A run that
    /// fails before its answer fails either way with the same failure.
    /// </summary>
    private static async Task<ProcessingOutput> AnswerAsync(
        string id,
        ProcessingRequest request,
        WorkflowGateway gateway,
        CancellationToken wait,
        CancellationToken ct)
    {
        if (gateway.Options.SyncAnswer == SyncAnswerShape.Early)
        {
            var rpc = new RpcOptions { CancellationToken = wait };
            return await gateway.StartWithUpdateAsync<ProcessingWorkflow, ProcessingOutput>(
                id, wf => wf.RunAsync(request), wf => wf.AwaitAnswerAsync(), "await-answer", rpc);
        }

        var handle = await gateway.StartAsync<ProcessingWorkflow, ProcessingOutput>(id, wf => wf.RunAsync(request), ct);
        return await handle.GetResultAsync(rpcOptions: new RpcOptions { CancellationToken = wait });
    }

    private static async Task<Accepted<JobAccepted>> SubmitAsync(
        ProcessingBody body,
        HttpContext http,
        WorkflowGateway gateway,
        CancellationToken ct)
    {
        var (id, request) = await RequestAsync("job", "job", body, http, gateway, ct);
        await gateway.StartAsync<ProcessingWorkflow, ProcessingOutput>(id, wf => wf.RunAsync(request), ct);
        return Accepted(id);
    }

    private static Accepted<JobAccepted> Accepted(string id) =>
        TypedResults.Accepted($"/api/v1/jobs/{id}", new JobAccepted(id, "accepted", $"/api/v1/jobs/{id}"));

    /// <summary>The run's id (claimed under an Idempotency-Key) and input, once the inputs pass the version's contract.</summary>
    private static async Task<(string Id, ProcessingRequest Request)> RequestAsync(
        string prefix, string kind, ProcessingBody body, HttpContext http, WorkflowGateway gateway, CancellationToken ct)
    {
        await CheckInputsAsync(body, http.RequestServices.GetRequiredService<IModelModule>(), ct);
        var hash = WorkflowGateway.HashOf(body);
        var id = await gateway.StartIdAsync(prefix, http, hash, ct);

        var request = new ProcessingRequest(kind, body.Model!, body.Version, body.Alias, body.Inputs!, body.DatasetId, body.EntityId,
            body.CallExternal, body.StartPaused, body.Params ?? new ProcessingParams(), hash, gateway.Policy(), body.Strict);
        return (id, request);
    }

    /// <summary>
    /// The inputs checked against the version's input contract before any run starts, so a missing or wrong-typed input
    /// is a 400 naming it, as on the direct predict path. A version that does not resolve is left to the run's
    /// validation, which names the field at fault.
    /// </summary>
    private static async Task CheckInputsAsync(ProcessingBody body, IModelModule models, CancellationToken ct)
    {
        ModelVersionInfo info;
        try
        {
            info = await models.ResolveVersionAsync(body.Model!, body.Version, body.Alias, ct);
        }
        catch (ModuleException ex) when (ex.Kind is ErrorKind.NotFound or ErrorKind.Invalid)
        {
            return;
        }

        var (errors, _) = ModelInputs.Check(info, body.Inputs!, body.Strict, requireAll: body.DatasetId is null || body.EntityId is null);
        if (errors.Count > 0)
        {
            throw new ModuleException(ErrorKind.Invalid, $"The input does not match {info.Name} {info.Version}.", errors);
        }
    }

    /// <summary>The workflow's own failures: its validation is a 422 with the reasons, anything else a 422 or 503.</summary>
    private static Microsoft.AspNetCore.Mvc.ProblemDetails Failure(Exception cause)
    {
        var app = ActivityErrors.Application(cause);
        if (app?.ErrorType is ErrorTypes.InvalidInput)
        {
            var errors = app.Details.Count > 0 ? app.Details.ElementAt<Dictionary<string, string[]>>(0) : [];
            return new HttpValidationProblemDetails(errors) { Status = 422, Title = "Unprocessable Entity", Detail = app.Message };
        }

        var status = cause is CanceledFailureException
            ? 409
            : app?.ErrorType switch
            {
                ErrorTypes.Value or ErrorTypes.NotFound => 422,
                ErrorTypes.Cancelled => 409,
                _ => 503,
            };
        return new Microsoft.AspNetCore.Mvc.ProblemDetails
        {
            Status = status,
            Title = status switch { 422 => "Unprocessable Entity", 409 => "Conflict", _ => "Service Unavailable" },
            Detail = ActivityErrors.Describe(cause),
        };
    }

    private static async Task<Accepted<JobAccepted>> CancelAsync(
        string id,
        CancelBody? body,
        HttpContext http,
        WorkflowGateway gateway,
        CancellationToken ct)
    {
        await SendCancelAsync(id, body?.Reason, http.User.Identity?.Name, gateway, ct);
        return TypedResults.Accepted($"/api/v1/jobs/{id}", new JobAccepted(id, "cancelling", $"/api/v1/jobs/{id}"));
    }

    /// <summary>
    /// The cancel signal carries why (and who asked), since Temporal's cancel request cannot bring a reason to .NET
    /// workflow code; Temporal's cancellation then stops the run, which closes CANCELED, so visibility, the status
    /// filter and Temporal's own UI and metrics all count it as cancelled. The dashboard's cancel button sends it too.
    /// </summary>
    internal static async Task SendCancelAsync(string id, string? reason, string? by, WorkflowGateway gateway, CancellationToken ct)
    {
        var request = new CancelRequest(reason, by, CancellationFollows: true);
        await gateway.SignalAsync<ProcessingWorkflow>(id, wf => wf.CancelAsync(request), ct);
        await gateway.RequestCancelAsync(id, ct);
    }

    private static async Task<Ok<JobView>> PatchParamsAsync(
        string id,
        ParamsPatch patch,
        WorkflowGateway gateway,
        IDataModule data,
        CancellationToken ct)
    {
        var change = new ProcessingParamsChange(patch.DecisionThreshold, patch.RoundDigits, patch.UseCache);
        await gateway.UpdateAsync<ProcessingWorkflow, ProcessingStatus>(id, wf => wf.SetParamsAsync(change), ct);
        return TypedResults.Ok(await ViewAsync(id, gateway, data, ct));
    }

    private static async Task<Ok<JobView>> GetAsync(string id, WorkflowGateway gateway, IDataModule data, CancellationToken ct) =>
        TypedResults.Ok(await JobViews.ReadAsync(id, gateway, data, ct));

    /// <summary>A processing job's view; <paramref name="described"/> when the caller already has its description.</summary>
    public static async Task<JobView> ViewAsync(
        string id,
        WorkflowGateway gateway,
        IDataModule data,
        CancellationToken ct,
        WorkflowExecutionDescription? described = null)
    {
        var run = await gateway.ReadRunAsync<ProcessingWorkflow, ProcessingStatus>(data, id, wf => wf.GetCurrentStatus(), ct, described);
        var location = $"/api/v1/jobs/{id}";
        var description = run.Description;
        var type = id.StartsWith("prediction-", StringComparison.Ordinal) ? "prediction" : "job";
        if (run.Running)
        {
            var status = run.Live;
            var errors = await gateway.TryQueryAsync<ProcessingWorkflow, IReadOnlyList<ErrorRecord>>(id, wf => wf.GetErrorHistory(), ct);
            return new JobView(
                id,
                type,
                status?.Paused == true ? "paused" : "running",
                status?.Stage,
                status?.ProgressPercent,
                description.StartTime,
                status?.EstimatedCompletion,
                null,
                status?.Paused ?? false,
                status?.Params,
                null,
                null,
                errors ?? [],
                location);
        }

        var stored = run.Stored;
        var history = JobViews.StoredErrors(stored?.Output);
        var succeeded = description.Status == WorkflowExecutionStatus.Completed;

        // A run stopped by the cancel signal alone (not through this API) ends FAILED in Temporal; its stored
        // result says what happened.
        var closed = stored?.Status == ResultStatus.Cancelled ? "cancelled" : run.Status;
        return new JobView(
            id,
            type,
            closed,
            closed,
            succeeded ? 100 : null,
            description.StartTime,
            null,
            description.CloseTime,
            false,
            null,
            succeeded ? stored?.Output : null,
            stored?.Error,
            history,
            location);
    }

    private static async Task<Ok<JobPage>> ListAsync(
        WorkflowGateway gateway,
        [Description("Only runs in this state: `running` (`paused` counts as running), `completed`, `failed`, `cancelled`, "
            + "`terminated` or `timedOut`, in any case.")]
        string? status,
        [Description("The kind of run: `processing` (the default; `job` and `prediction` say the same and list both), "
            + "`training`, `batch` or `promotion`, in any case.")]
        string? type,
        [Description("Runs per page, 1–500 (50 when absent).")] int? pageSize,
        [Description("The previous page's `nextPageToken`, with the same filters; absent for the first page.")] string? pageToken,
        CancellationToken ct)
    {
        var workflowType = type?.ToLowerInvariant() switch
        {
            null or "" or "processing" or "job" or "prediction" => nameof(ProcessingWorkflow),
            "training" => "ModelTrainingWorkflow",
            "batch" => "BatchInferenceWorkflow",
            "promotion" => "ModelPromotionSaga",
            _ => throw ModuleException.Invalid("type", "type must be one of processing, training, batch, promotion."),
        };
        var size = pageSize ?? 50;
        if (size is < 1 or > MaxPageSize)
        {
            throw ModuleException.Invalid("pageSize", $"pageSize must be between 1 and {MaxPageSize}.");
        }

        var query = $"WorkflowType = '{workflowType}'";
        if (WorkflowGateway.ParseStatus(status) is { } parsed)
        {
            query += $" AND ExecutionStatus = '{parsed}'";
        }

        var (items, next) = await gateway.ListAsync(query, pageToken, size, ct);
        return TypedResults.Ok(new JobPage(
            items.Select(e => Summary(e)).ToList(), next));
    }

    private static JobSummary Summary(WorkflowExecution execution) => new(
        execution.Id,
        WorkflowLocations.KindOf(execution.WorkflowType, execution.Id),
        WorkflowGateway.StatusName(execution.Status),
        execution.StartTime,
        execution.CloseTime,
        WorkflowLocations.PathOf(execution.WorkflowType, execution.Id));
}

/// <summary>Shape checks answered with 400 before any workflow starts; the workflow checks the input against the model.</summary>
internal sealed class ProcessingBodyValidator : AbstractValidator<ProcessingBody>
{
    private const int MaxInputs = 512;

    public ProcessingBodyValidator(IOptions<WorkflowsOptions> options)
    {
        RuleFor(b => b.Model).NotEmpty().WithMessage("A model name is required.");
        RuleFor(b => b.Inputs)
            .Must(inputs => inputs is { Count: > 0 }).WithMessage("An object with at least one input value is required.")
            .Must(inputs => inputs!.Count <= MaxInputs).WithMessage($"At most {MaxInputs} input values are accepted.")
            .Must(inputs => !inputs!.Values.Any(v => v.ValueKind is JsonValueKind.Object or JsonValueKind.Array))
            .WithMessage("Input values must be numbers, strings, booleans or null.");
        RuleFor(b => b.Alias).Must((b, alias) => alias is null || b.Version is null).WithMessage("Give a version or an alias, not both.");
        RuleFor(b => b.EntityId).Must((b, entity) => entity is null || b.DatasetId is not null)
            .WithMessage("An entityId needs the datasetId to look it up in.");
        RuleFor(b => b.CallExternal).Must(call => !call || !string.IsNullOrWhiteSpace(options.Value.ExternalService.Url))
            .WithMessage("No external service is configured (Workflows:ExternalService:Url).");
        RuleFor(b => b.Params!).SetValidator(new ProcessingParamsValidator()).When(b => b.Params is not null);
    }
}

internal sealed class ProcessingParamsValidator : AbstractValidator<ProcessingParams>
{
    public ProcessingParamsValidator()
    {
        RuleFor(p => p.DecisionThreshold).Must(ProcessingParams.ThresholdInRange).WithMessage(ProcessingParams.ThresholdRange);
        RuleFor(p => p.RoundDigits).InclusiveBetween(0, 15).WithMessage(ProcessingParams.DigitsRange);
    }
}

/// <summary>
/// A change of a running job's parameters: each value given keeps the range a new job's has. The workflow's
/// set_params validator checks the same ranges again, and what only the run knows.
/// </summary>
internal sealed class ParamsPatchValidator : AbstractValidator<ParamsPatch>
{
    public ParamsPatchValidator()
    {
        RuleFor(p => p.DecisionThreshold).Must(t => t is null || ProcessingParams.ThresholdInRange(t.Value))
            .WithMessage(ProcessingParams.ThresholdRange);
        RuleFor(p => p.RoundDigits).InclusiveBetween(0, 15).WithMessage(ProcessingParams.DigitsRange);
    }
}

internal sealed class CancelBodyValidator : AbstractValidator<CancelBody>
{
    public CancelBodyValidator() => RuleFor(b => b.Reason).MaximumLength(500).WithMessage("reason must be at most 500 characters.");
}
