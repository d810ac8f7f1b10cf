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
/// Two updates: <c>set_params</c> changes the parameters (its validator refuses a change the run can no longer
/// apply), and <c>await_answer</c> answers as soon as post-processing is done, while persistence and the events
/// still follow in the run (the synchronous POST /predictions starts the run with it).
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
    private ProcessingOutput? _answer;
    private bool _answerAwaited;
    private ApplicationFailureException? _failure;

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

    /// <summary>
    /// The parameters' old channel: unvalidated and unanswered. Kept so that clients that still send it, and the
    /// histories that recorded it, go on working; the API sends <see cref="SetParamsAsync"/>.
    /// </summary>
    [WorkflowSignal("update_params")]
    public Task UpdateParamsAsync(ProcessingParams parameters)
    {
        _params = parameters;
        return Task.CompletedTask;
    }

    /// <summary>
    /// Refuses, before anything is recorded, a change the run would not apply: a value out of range, or a value the
    /// run has already used (the cache choice once inference has started, any parameter once post-processing has
    /// begun or the run is failing). The errors name the request's fields.
    /// </summary>
    [WorkflowUpdateValidator(nameof(SetParamsAsync))]
    public void ValidateSetParams(ProcessingParamsChange change)
    {
        var errors = change.Check();
        if (_failure is not null || _progress >= PostProcessingProgress)
        {
            var late = _failure is null
                ? "The job is past post-processing; its parameters no longer apply."
                : "The job has failed; its parameters no longer apply.";
            foreach (var field in change.Fields())
            {
                errors.TryAdd(field, [late]);
            }
        }
        else if (_progress >= ProcessingProgress && change.UseCache is { } useCache && useCache != _params.UseCache)
        {
            errors.TryAdd("useCache", ["Inference has already started; useCache no longer applies to this job."]);
        }

        if (errors.Count > 0)
        {
            throw ActivityErrors.Invalid("The change cannot be applied to this job.", errors);
        }
    }

    /// <summary>Applies the values given over the current ones and answers with the status that results.</summary>
    [WorkflowUpdate("set_params")]
    public Task<ProcessingStatus> SetParamsAsync(ProcessingParamsChange change)
    {
        _params = change.ApplyTo(_params);
        return Task.FromResult(GetCurrentStatus());
    }

    /// <summary>
    /// The run's output once post-processing is done, before it is persisted; a run that fails before that fails the
    /// update with the failure that closes the run. A failure after the answer is on the job only.
    /// </summary>
    [WorkflowUpdate("await_answer")]
    public async Task<ProcessingOutput> AwaitAnswerAsync()
    {
        _answerAwaited = true;
        // Not on the run's token: a cancelled run still ends through its clean-up, which sets the failure to answer with.
        await Workflow.WaitConditionAsync(() => _answer is not null || _failure is not null, CancellationToken.None);
        return _answer ?? throw _failure!;
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

            await StageAsync("processing", ProcessingProgress);
            var (prediction, prepared, external) = await ProcessingSteps.ProcessAsync(request, validated, () => _params.UseCache, _errors);

            await StageAsync("aggregating", 70);
            var aggregation = new AggregationInput(
                id, request.Kind, prediction, prepared, external, [.. _errors], _startedAt);
            var aggregated = await ProcessingSteps.AggregateAsync(aggregation, policy);

            await StageAsync("post-processing", PostProcessingProgress);
            var output = await ProcessingSteps.PostProcessAsync(new PostProcessInput(aggregated, _params), policy);
            output = output with { Errors = [.. _errors], CompletedAt = Workflow.UtcNow };
            _answer = output;

            await StageAsync("persisting", 90);

            // Only a run with an await_answer update persists through a regular activity. No history recorded before
            // the update existed has one, so they replay unchanged without a patch.
            await ProcessingSteps.FinishSucceededAsync(request, output, _startedAt, _answerAwaited);
            _stage = "completed";
            _progress = 100;
            return output;
        }
        catch (Exception ex) when (RunFailure.ClosesRun(ex))
        {
            // Temporal's cancellation ends the run CANCELED; the cancel signal alone ends it FAILED with type
            // Cancelled. Either way the stored result says Cancelled, with the reason the signal gave.
            var failure = RunFailure.Of(ex, _stage, CancelledMessage);
            _failure = AnswerFailure(ex, failure);
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

    private const double ProcessingProgress = 30;
    private const double PostProcessingProgress = 80;

    /// <summary>
    /// The failure a waiting <see cref="AwaitAnswerAsync"/> fails with: the run's own, or for Temporal's
    /// cancellation (which an update cannot carry) the Cancelled failure the cancel signal would raise.
    /// </summary>
    private static ApplicationFailureException AnswerFailure(Exception ex, RunFailure failure) => ex switch
    {
        _ when failure.Cancelled => new ApplicationFailureException(failure.Error.Message, ErrorTypes.Cancelled, nonRetryable: true),
        ApplicationFailureException app => app,
        _ => new ApplicationFailureException(failure.Error.Message, failure.Error.Type, nonRetryable: true),
    };

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
