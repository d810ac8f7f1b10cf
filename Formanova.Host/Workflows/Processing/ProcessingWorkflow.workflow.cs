using Formanova.Host.Workflows.Common;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Processing;

/// <summary>
/// Predictions and jobs (docs/workflows.md, "ProcessingWorkflow"): validate; then inference, data preparation and the
/// optional external call in parallel (inference waits for the prepared features only when the request asks for
/// enrichment); aggregate, post-process, persist; emit WORKFLOW_STARTED, PROCESSING_COMPLETED and WORKFLOW_COMPLETED
/// (or WORKFLOW_FAILED). Inference that still fails after its retries falls back to the previous stable version.
/// The steps are in <see cref="ProcessingSteps"/>; a run takes two workflow tasks and one activity round trip.
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
    public ProcessingStatus GetCurrentStatus() => ProcessingStatus.Of(_stage, _progress, _startedAt, Workflow.UtcNow, _paused, _params);

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
        _cancelReason ??= request.Describe();
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
        var startedEvent = ProcessingSteps.EmitStartedAsync(request);
        try
        {
            await StageAsync("validating", 10);
            var validated = await ProcessingSteps.ValidateAsync(request, startedEvent);

            await StageAsync("processing", 30);
            var (prediction, prepared, external) = await ProcessingSteps.ProcessAsync(request, validated, () => _params.UseCache, _errors);

            await StageAsync("aggregating", 70);
            var aggregation = new AggregationInput(
                id, request.Kind, prediction, prepared, external, [.. _errors], _startedAt);
            var aggregated = await ProcessingSteps.AggregateAsync(aggregation, policy);

            await StageAsync("post-processing", 80);
            var output = await ProcessingSteps.PostProcessAsync(new PostProcessInput(aggregated, _params), policy);
            output = output with { Errors = [.. _errors], CompletedAt = Workflow.UtcNow };

            await StageAsync("persisting", 90);
            await ProcessingSteps.FinishSucceededAsync(request, output, _startedAt);
            _stage = "completed";
            _progress = 100;
            return output;
        }
        catch (Exception ex) when (RunFailure.ClosesRun(ex))
        {
            // Temporal's cancellation ends the run CANCELED; the cancel signal alone ends it FAILED with type
            // Cancelled. Either way the stored result says Cancelled, with the reason the signal gave.
            var failure = RunFailure.Of(ex, _stage, CancelledMessage);
            _errors.Add(failure.Error);
            _stage = failure.Stage;
            await Workflow.WhenAnyAsync(startedEvent);
            await ProcessingSteps.FinishFailedAsync(request, failure, _cancelReason, _errors, _startedAt);
            if (ex is ApplicationFailureException { ErrorType: ErrorTypes.Cancelled } && Workflow.CancellationToken.IsCancellationRequested)
            {
                // The signal stopped the run, but Temporal's cancellation was requested too: the SDK closes a run
                // CANCELED only for a cancellation exception, so raise one.
                throw new OperationCanceledException(failure.Error.Message);
            }

            throw;
        }
    }

    private string CancelledMessage => _cancelReason is null ? "The job was cancelled." : $"The job was cancelled: {_cancelReason}";

    /// <summary>A cancel signal with no Temporal cancellation to follow stops the run itself.</summary>
    private bool StopsBySignal => _cancelReason is not null && !_cancellationFollows;

    private async Task StageAsync(string stage, double progress)
    {
        _stage = stage;
        await Workflow.WaitConditionAsync(() => !_paused || StopsBySignal);
        if (StopsBySignal)
        {
            throw new ApplicationFailureException(CancelledMessage, ErrorTypes.Cancelled, nonRetryable: true);
        }

        _progress = progress;
    }
}
