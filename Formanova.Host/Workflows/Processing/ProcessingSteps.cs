using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Processing;

/// <summary>
/// The steps of <see cref="ProcessingWorkflow"/> (docs/workflows.md, "ProcessingWorkflow"), each with its step
/// policy. Called from workflow code only, so they are as deterministic as the workflow itself. The short steps are
/// local activities; inference (with its fallback) and the external call are regular activities, since they may run
/// up to their timeouts and a local activity holds the workflow task open (no status query meanwhile).
/// </summary>
internal static class ProcessingSteps
{
    /// <summary>Validation, with WORKFLOW_STARTED (already on its way) finished before anything else is emitted.</summary>
    public static async Task<ValidatedInput> ValidateAsync(ProcessingRequest request, Task<long> startedEvent)
    {
        try
        {
            var validating = Workflow.ExecuteLocalActivityAsync(
                (ProcessingActivities a) => a.ValidateInputAsync(request),
                request.Policy.Local(t => t.Validate));
            await Workflow.WhenAllAsync(startedEvent, validating);
            return validating.Result;
        }
        catch (ActivityFailureException ex) when (ActivityErrors.Application(ex) is { ErrorType: ErrorTypes.InvalidInput } app)
        {
            // Re-raised as the workflow's own failure so a caller sees the reasons without unwrapping the activity.
            var reasons = app.Details.Count > 0
                ? app.Details.ElementAt<Dictionary<string, string[]>>(0)
                : new Dictionary<string, string[]>();
            throw new ApplicationFailureException(app.Message, ErrorTypes.InvalidInput, nonRetryable: true, details: [reasons]);
        }
    }

    public static Task<long> EmitStartedAsync(ProcessingRequest request) => WorkflowSteps.EmitAsync(
        request.Policy,
        IEventModule.WorkflowStarted,
        new { jobId = Workflow.Info.WorkflowId, kind = request.Kind, model = request.Model },
        local: true);

    /// <summary>
    /// Inference, data preparation and the external call, together. Only when the request names an entity to enrich
    /// from are the prepared features the model's input, so inference and the external call then wait for them (a
    /// local activity: no extra server round trip).
    /// </summary>
    public static async Task<(PredictionResult Prediction, PreparedData Prepared, ExternalResponse? External)> ProcessAsync(
        ProcessingRequest request,
        ValidatedInput validated,
        Func<bool> useCache,
        List<ErrorRecord> errors)
    {
        var policy = request.Policy;
        var preparing = Workflow.ExecuteLocalActivityAsync(
            (ProcessingActivities a) => a.PrepareDataAsync(validated, request.DatasetId, request.EntityId),
            policy.Local(t => t.Prepare));
        var ready = request.DatasetId is not null && request.EntityId is not null
            ? validated with { Inputs = (await preparing).Features }
            : validated;
        var inference = InferWithFallbackAsync(ready, policy, useCache, errors, request.EntityId);
        var external = request.CallExternal ? CallExternalAsync(ready, policy, errors) : Task.FromResult<ExternalResponse?>(null);
        await Workflow.WhenAllAsync(inference, preparing, external);
        return (inference.Result, preparing.Result, external.Result);
    }

    /// <summary>
    /// Inference on the pinned version; if it still fails after its retries, fallback_model and inference on the
    /// version that is active after it. Both failures are recorded in <paramref name="errors"/> as handled.
    /// </summary>
    public static async Task<PredictionResult> InferWithFallbackAsync(
        ValidatedInput validated,
        StepPolicy policy,
        Func<bool> useCache,
        List<ErrorRecord> errors,
        string? entityId = null)
    {
        try
        {
            return await InferAsync(validated, validated.Version, policy, useCache(), entityId);
        }
        catch (ActivityFailureException ex) when (!TemporalException.IsCanceledException(ex)
            && ActivityErrors.Application(ex)?.ErrorType is not (ErrorTypes.InvalidInput or ErrorTypes.DatabaseUnavailable))
        {
            // A database outage says nothing about the version: marking it failed would take a healthy model out of
            // service.
            var reason = ActivityErrors.Describe(ex);
            var failed = $"{validated.Model} {validated.Version}: {reason}";
            errors.Add(new ErrorRecord(Workflow.UtcNow, "inference", ActivityErrors.TypeOf(ex), failed, Handled: true));
            var fallback = await Workflow.ExecuteActivityAsync(
                (ProcessingActivities a) => a.FallbackModelAsync(new FallbackInput(validated.Model, validated.Version, reason)),
                policy.For(t => t.Inference));
            var fellBack = $"Fell back from {validated.Version} to {fallback.ActiveVersion}.";
            errors.Add(new ErrorRecord(Workflow.UtcNow, "fallback", "Fallback", fellBack, Handled: true));
            var result = await InferAsync(validated, fallback.ActiveVersion!, policy, useCache(), entityId);
            return result with { FallbackFrom = validated.Version, FallbackReason = reason };
        }
    }

    /// <summary>The external call; a failure is recorded as handled and the prediction stands without it.</summary>
    public static async Task<ExternalResponse?> CallExternalAsync(ValidatedInput validated, StepPolicy policy, List<ErrorRecord> errors)
    {
        try
        {
            return await Workflow.ExecuteActivityAsync(
                (ProcessingActivities a) => a.CallExternalServiceAsync(
                    new ExternalCall(validated.Model, validated.Version, validated.Inputs)),
                policy.For(t => t.External));
        }
        catch (ActivityFailureException ex) when (!TemporalException.IsCanceledException(ex))
        {
            errors.Add(new ErrorRecord(Workflow.UtcNow, "external", ActivityErrors.TypeOf(ex), ActivityErrors.Describe(ex), Handled: true));
            return null;
        }
    }

    public static Task<ProcessingOutput> AggregateAsync(AggregationInput aggregation, StepPolicy policy) =>
        Workflow.ExecuteLocalActivityAsync(() => ProcessingActivities.AggregateResults(aggregation), policy.Local(t => t.Aggregate));

    public static Task<ProcessingOutput> PostProcessAsync(PostProcessInput postProcess, StepPolicy policy) =>
        Workflow.ExecuteLocalActivityAsync(() => ProcessingActivities.PostProcess(postProcess), policy.Local(t => t.Aggregate));

    /// <summary>
    /// persist_and_emit for a run that succeeded: the result, PROCESSING_COMPLETED, WORKFLOW_COMPLETED. After an early
    /// answer (<paramref name="answered"/>) it is a regular activity, so the answer leaves with the workflow task that
    /// schedules it instead of waiting for it.
    /// </summary>
    public static Task<long> FinishSucceededAsync(ProcessingRequest request, ProcessingOutput output, DateTime startedAt, bool answered)
    {
        var json = WorkflowJson.Element(output);
        var completed = new { jobId = Workflow.Info.WorkflowId, kind = request.Kind, status = "completed" };
        return WorkflowSteps.FinishAsync(
            local: !answered,
            request.Policy,
            startedAt,
            ResultStatus.Succeeded,
            output.Model,
            output.Version,
            WorkflowJson.Element(request.Inputs),
            json,
            null,
            (IEventModule.ProcessingCompleted, json),
            (IEventModule.WorkflowCompleted, completed));
    }

    /// <summary>persist_and_emit for a run that failed or was cancelled: the result with the errors, WORKFLOW_FAILED.</summary>
    public static Task<long> FinishFailedAsync(
        ProcessingRequest request,
        RunFailure failure,
        string? cancelReason,
        List<ErrorRecord> errors,
        DateTime startedAt)
    {
        var output = WorkflowJson.Element(new
        {
            jobId = Workflow.Info.WorkflowId,
            kind = request.Kind,
            status = failure.Stage,
            reason = failure.Cancelled ? cancelReason : null,
            errors,
        });
        return WorkflowSteps.FinishAsync(
            local: true,
            request.Policy,
            startedAt,
            failure.Status,
            request.Model,
            request.Version,
            WorkflowJson.Element(request.Inputs),
            output,
            failure.Error.Message,
            (IEventModule.WorkflowFailed, output));
    }

    private static Task<PredictionResult> InferAsync(
        ValidatedInput validated,
        string version,
        StepPolicy policy,
        bool useCache,
        string? entityId) =>
        Workflow.ExecuteActivityAsync(
            (ProcessingActivities a) => a.RunModelInferenceAsync(
                new InferenceInput(validated.Model, version, validated.Inputs, useCache, entityId)),
            policy.For(t => t.Inference));
}
