using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Processing;

/// <summary>
/// The seed's FormanovaWorkflow: validate; then inference, data preparation and the optional external call in
/// parallel (inference waits for the prepared features only when the request asks for enrichment); aggregate, post-process, persist; emit WORKFLOW_STARTED, PROCESSING_COMPLETED and WORKFLOW_COMPLETED
/// (or WORKFLOW_FAILED). Inference that still fails after its retries falls back to the previous stable version.
/// The short steps (validate, prepare, aggregate, post-process, and persist with the closing events) are local activities: each takes
/// well under a millisecond to a few, so a server round trip per step cost far more than the step. Inference
/// (and its fallback) and the external call stay regular activities: they may take up to their timeouts, and a
/// local activity holds the workflow task open, so the status query could not answer meanwhile. A run therefore
/// takes two workflow tasks and one activity round trip.
/// </summary>
[Workflow]
public sealed class ProcessingWorkflow
{
    private readonly List<ErrorRecord> _errors = [];
    private ProcessingParams _params = new();
    private string _stage = "queued";
    private double _progress;
    private bool _paused;
    private string? _cancelReason;
    private bool _cancellationFollows;
    private DateTime _startedAt;

    [WorkflowQuery("get_current_status")]
    public ProcessingStatus GetCurrentStatus()
    {
        // Linear extrapolation from the share of stages done; good enough to tell seconds from hours.
        DateTime? eta = _progress is > 0 and < 100 && !_paused
            ? _startedAt + TimeSpan.FromTicks((long)((Workflow.UtcNow - _startedAt).Ticks * 100 / _progress))
            : null;
        return new ProcessingStatus(_paused ? $"paused ({_stage})" : _stage, _progress, _startedAt, eta, _paused, _params);
    }

    [WorkflowQuery("get_error_history")]
    public IReadOnlyList<ErrorRecord> GetErrorHistory() => _errors;

    [WorkflowSignal("pause")]
    public Task PauseAsync()
    {
        _paused = true;
        return Task.CompletedTask;
    }

    [WorkflowSignal("resume")]
    public Task ResumeAsync()
    {
        _paused = false;
        return Task.CompletedTask;
    }

    /// <summary>
    /// Records why the run is cancelled. Alone it stops the run at the next stage boundary; followed by Temporal's
    /// cancellation (<see cref="CancelRequest.CancellationFollows"/>) the run ends through that. Either way the clean-up
    /// (stored result, WORKFLOW_FAILED) still runs.
    /// </summary>
    [WorkflowSignal("cancel")]
    public Task CancelAsync(CancelRequest request)
    {
        // The first reason wins: a repeated cancel must not rewrite why the run stopped.
        _cancelReason ??= (string.IsNullOrWhiteSpace(request.Reason) ? "Cancelled on request" : request.Reason.Trim())
            + (string.IsNullOrWhiteSpace(request.By) ? "" : $" (by {request.By.Trim()})");
        _cancellationFollows |= request.CancellationFollows;
        return Task.CompletedTask;
    }

    [WorkflowSignal("update_params")]
    public Task UpdateParamsAsync(ProcessingParams parameters)
    {
        _params = parameters;
        return Task.CompletedTask;
    }

    [WorkflowRun]
    public async Task<ProcessingOutput> RunAsync(ProcessingRequest request)
    {
        _startedAt = Workflow.UtcNow;
        _params = request.Params;
        _paused = request.StartPaused;
        var id = Workflow.Info.WorkflowId;
        var policy = request.Policy;

        // WORKFLOW_STARTED is written while validation runs; both finish before anything else is emitted.
        var startedEvent = WorkflowSteps.EmitAsync(
            policy,
            IEventModule.WorkflowStarted,
            new { jobId = id, kind = request.Kind, model = request.Model },
            local: true);
        try
        {
            await StageAsync("validating", 10);
            ValidatedInput validated;
            try
            {
                var validating = Workflow.ExecuteLocalActivityAsync(
                    (ProcessingActivities a) => a.ValidateInputAsync(request),
                    policy.Local("validate"));
                await Workflow.WhenAllAsync(startedEvent, validating);
                validated = validating.Result;
            }
            catch (ActivityFailureException ex) when (ActivityErrors.Application(ex) is { ErrorType: ErrorTypes.InvalidInput } app)
            {
                // Re-raised as the workflow's own failure so a caller sees the reasons without unwrapping the activity.
                throw new ApplicationFailureException(app.Message, ErrorTypes.InvalidInput, nonRetryable: true, details: [app.Details.Count > 0 ? app.Details.ElementAt<Dictionary<string, string[]>>(0) : new Dictionary<string, string[]>()]);
            }

            await StageAsync("processing", 30);

            // The seed's parallel step: inference, data preparation and the external call together. Only when the
            // request names an entity to enrich from are the prepared features the model's input, so inference and
            // the external call then wait for them (a local activity: no extra server round trip).
            var preparing = Workflow.ExecuteLocalActivityAsync(
                (ProcessingActivities a) => a.PrepareDataAsync(validated, request.DatasetId, request.EntityId),
                policy.Local("prepare"));
            var ready = request.DatasetId is not null && request.EntityId is not null
                ? validated with { Inputs = (await preparing).Features }
                : validated;
            var inference = InferWithFallbackAsync(ready, policy);
            var external = request.CallExternal ? CallExternalAsync(ready, policy) : Task.FromResult<ExternalResponse?>(null);
            await Workflow.WhenAllAsync(inference, preparing, external);

            await StageAsync("aggregating", 70);
            var aggregation = new AggregationInput(
                id,
                request.Kind,
                inference.Result,
                preparing.Result,
                external.Result,
                [.. _errors],
                _startedAt);
            var aggregated = await Workflow.ExecuteLocalActivityAsync(
                () => ProcessingActivities.AggregateResults(aggregation),
                policy.Local("aggregate"));

            await StageAsync("post-processing", 80);
            var postProcess = new PostProcessInput(aggregated, _params);
            var output = await Workflow.ExecuteLocalActivityAsync(
                () => ProcessingActivities.PostProcess(postProcess),
                policy.Local("aggregate"));
            output = output with { Errors = [.. _errors], CompletedAt = Workflow.UtcNow };

            await StageAsync("persisting", 90);
            var json = WorkflowJson.Element(output);
            await WorkflowSteps.FinishAsync(
                policy,
                _startedAt,
                ResultStatus.Succeeded,
                output.Model,
                output.Version,
                WorkflowJson.Element(request.Inputs),
                json,
                null,
                (IEventModule.ProcessingCompleted, json),
                (IEventModule.WorkflowCompleted, new
                {
                    jobId = id,
                    kind = request
                    .Kind,
                    status = "completed"
                }));
            _stage = "completed";
            _progress = 100;
            return output;
        }
        catch (Exception ex) when (ex is not ContinueAsNewException)
        {
            // Temporal's cancellation ends the run CANCELED; the cancel signal alone ends it FAILED with type Cancelled.
            // Either way the stored result says Cancelled, with the reason the signal gave.
            var signalled = ex is ApplicationFailureException { ErrorType: ErrorTypes.Cancelled };
            var cancelled = signalled || TemporalException.IsCanceledException(ex);
            var message = !cancelled
                ? ActivityErrors.Describe(ex)
                : _cancelReason is null ? "The job was cancelled." : $"The job was cancelled: {_cancelReason}";
            _errors.Add(new ErrorRecord(
                Workflow.UtcNow,
                _stage,
                cancelled ? ErrorTypes.Cancelled : ActivityErrors.TypeOf(ex),
                message,
                Handled: false));
            _stage = cancelled ? "cancelled" : "failed";
            await Workflow.WhenAnyAsync(startedEvent);

            // Clean-up must run even when the run was cancelled, so it gets a token of its own.
            var failure = WorkflowJson.Element(
                new { jobId = id, kind = request.Kind, status = _stage, reason = cancelled ? _cancelReason : null, errors = _errors });
            await WorkflowSteps.FinishAsync(
                policy,
                _startedAt,
                cancelled ? ResultStatus.Cancelled : ResultStatus.Failed,
                request.Model,
                request.Version,
                WorkflowJson.Element(request.Inputs),
                failure,
                message,
                (IEventModule.WorkflowFailed, failure));
            if (signalled && Workflow.CancellationToken.IsCancellationRequested)
            {
                // The signal stopped the run, but Temporal's cancellation was requested too: the SDK closes a run
                // CANCELED only for a cancellation exception, so raise one.
                throw new OperationCanceledException(message);
            }

            if (ex is FailureException || cancelled)
            {
                throw;
            }

            throw new ApplicationFailureException(ActivityErrors.Describe(ex), ActivityErrors.TypeOf(ex), nonRetryable: true);
        }
    }

    private async Task<PredictionResult> InferWithFallbackAsync(ValidatedInput validated, StepPolicy policy)
    {
        try
        {
            return await Workflow.ExecuteActivityAsync(
                (ProcessingActivities a) => a.RunModelInferenceAsync(
                    new InferenceInput(validated.Model, validated.Version, validated.Inputs, _params.UseCache)),
                policy.For("inference"));
        }
        catch (ActivityFailureException ex) when (!TemporalException.IsCanceledException(ex)
            && ActivityErrors.Application(ex)?.ErrorType is not (ErrorTypes.InvalidInput or ErrorTypes.DatabaseUnavailable))
        {
            // A database outage says nothing about the version: marking it failed would take a healthy model out of service.
            var reason = ActivityErrors.Describe(ex);
            _errors.Add(new ErrorRecord(
                Workflow.UtcNow,
                "inference",
                ActivityErrors.TypeOf(ex),
                $"{validated.Model} {validated.Version}: {reason}",
                Handled: true));
            var fallback = await Workflow.ExecuteActivityAsync(
                (ProcessingActivities a) => a.FallbackModelAsync(new FallbackInput(validated.Model, validated.Version, reason)), policy.For(
                    "inference"));
            _errors.Add(new ErrorRecord(
                Workflow.UtcNow,
                "fallback",
                "Fallback",
                $"Fell back from {validated.Version} to {fallback.ActiveVersion}.",
                Handled: true));
            var result = await Workflow.ExecuteActivityAsync(
                (ProcessingActivities a) => a.RunModelInferenceAsync(
                    new InferenceInput(validated.Model, fallback.ActiveVersion!, validated.Inputs, _params.UseCache)),
                policy.For("inference"));
            return result with { FallbackFrom = validated.Version, FallbackReason = reason };
        }
    }

    private async Task<ExternalResponse?> CallExternalAsync(ValidatedInput validated, StepPolicy policy)
    {
        try
        {
            return await Workflow.ExecuteActivityAsync(
                (ProcessingActivities a) => a.CallExternalServiceAsync(
                    new ExternalCall(validated.Model, validated.Version, validated.Inputs)), policy.For("external"));
        }
        catch (ActivityFailureException ex) when (!TemporalException.IsCanceledException(ex))
        {
            // The external answer enriches the result; without it the prediction still stands.
            _errors.Add(
                new ErrorRecord(Workflow.UtcNow, "external", ActivityErrors.TypeOf(ex), ActivityErrors.Describe(ex), Handled: true));
            return null;
        }
    }

    /// <summary>A cancel signal with no Temporal cancellation to follow stops the run itself.</summary>
    private bool StopsBySignal => _cancelReason is not null && !_cancellationFollows;

    private async Task StageAsync(string stage, double progress)
    {
        _stage = stage;
        await Workflow.WaitConditionAsync(() => !_paused || StopsBySignal);
        if (StopsBySignal)
        {
            throw new ApplicationFailureException($"The job was cancelled: {_cancelReason}", ErrorTypes.Cancelled, nonRetryable: true);
        }

        _progress = progress;
    }
}
