using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Training;

/// <summary>
/// The seed's training workflow: prepare the data (2 h), train (4 h, heartbeats, 3 attempts, out-of-memory and
/// invalid configuration not retried), validate against the request's thresholds, register; then, if asked,
/// wait for approval (a timer is the deadline) before activating the new version.
/// </summary>
[Workflow]
public sealed class ModelTrainingWorkflow
{
    private readonly List<ErrorRecord> _errors = [];
    private string _stage = "queued";
    private double _progress;
    private DateTime _startedAt;
    private PreparedTraining? _prepared;
    private TrainedVersion? _trained;
    private ModelValidationResult? _validation;
    private string? _approval;
    private DateTime? _deadline;

    [WorkflowQuery("get_progress")]
    public TrainingProgressView GetProgress()
        => new(_stage, _progress, _startedAt, _prepared, _trained, _validation, _approval, _deadline, _errors);

    [WorkflowQuery("get_error_history")]
    public IReadOnlyList<ErrorRecord> GetErrorHistory() => _errors;

    [WorkflowSignal("approve")]
    public Task ApproveAsync(ApprovalDecision decision)
    {
        _approval ??= "approved";
        return Task.CompletedTask;
    }

    [WorkflowSignal("reject")]
    public Task RejectAsync(ApprovalDecision decision)
    {
        _approval ??= "rejected";
        return Task.CompletedTask;
    }

    [WorkflowRun]
    public async Task<TrainingRunResult> RunAsync(TrainingRunInput run)
    {
        _startedAt = Workflow.UtcNow;
        var policy = run.Policy;
        var id = Workflow.Info.WorkflowId;
        await WorkflowSteps.EmitAsync(
            policy,
            IEventModule.WorkflowStarted,
            new { runId = id, kind = "training", model = run.Model, version = run.Version });
        try
        {
            _stage = "preparing";
            _progress = 5;
            _prepared = await Workflow.ExecuteActivityAsync(
                (TrainingActivities a) => a.PrepareTrainingDataAsync(run), policy.For(
                    "train-prepare",
                    heartbeat: policy.Timeout("train-heartbeat")));

            _stage = "training";
            _progress = 20;
            var prepared = _prepared;
            _trained = await Workflow.ExecuteActivityAsync(
                (TrainingActivities a) => a.TrainModelAsync(new TrainInput(run, prepared)),
                policy.For("train", maximumAttempts: run.TrainMaximumAttempts, heartbeat: policy.Timeout("train-heartbeat")));

            _stage = "validating";
            _progress = 80;
            var validateInput = new ValidateModelInput(_trained.Metrics, run.MinMetrics, run.MaxMetrics);
            _validation = await Workflow.ExecuteActivityAsync(
                () => TrainingActivities.ValidateModel(validateInput),
                policy.For("validate"));
            if (!_validation.Passed)
            {
                await Workflow.ExecuteActivityAsync(
                    (TrainingActivities a) => a.ArchiveModelAsync(run.Model, run.Version),
                    policy.For("persist"));
                throw new ApplicationFailureException(
                    $"{run.Model} {run.Version} failed validation: {string.Join(" ", _validation.Failures)}",
                    ErrorTypes.ModelValidation,
                    nonRetryable: true);
            }

            _stage = "registering";
            _progress = 90;
            var trained = _trained;
            await Workflow.ExecuteActivityAsync((TrainingActivities a) => a.RegisterModelAsync(trained), policy.For("emit"));

            var activate = run.Activate;
            if (run.RequireApproval)
            {
                _stage = "awaiting-approval";
                _deadline = Workflow.UtcNow.AddSeconds(run.ApprovalTimeoutSeconds);
                var decided = await Workflow.WaitConditionAsync(
                    () => _approval is not null,
                    TimeSpan.FromSeconds(run.ApprovalTimeoutSeconds));
                if (!decided)
                {
                    _approval = "expired";
                }

                activate = _approval == "approved";
                if (!activate)
                {
                    await Workflow.ExecuteActivityAsync(
                        (TrainingActivities a) => a.ArchiveModelAsync(run.Model, run.Version),
                        policy.For("persist"));
                }
            }

            if (activate)
            {
                _stage = "activating";
                await Workflow.ExecuteActivityAsync(
                    (TrainingActivities a) => a.ActivateModelAsync(run.Model, run.Version),
                    policy.For("persist"));
            }

            var outcome = run.RequireApproval && !activate
                ? $"registered, not activated ({_approval})"
                : activate ? "activated" : "registered";
            var result = new TrainingRunResult(run.Model, run.Version, outcome, _trained.Metrics, activate, _approval, []);
            await WorkflowSteps.PersistAsync(
                policy,
                _startedAt,
                ResultStatus.Succeeded,
                run.Model,
                run.Version,
                null,
                WorkflowJson.Element(result),
                null);
            await WorkflowSteps.EmitAsync(policy, IEventModule.WorkflowCompleted, result);
            _stage = "completed";
            _progress = 100;
            return result;
        }
        catch (Exception ex) when (ex is not ContinueAsNewException)
        {
            var cancelled = TemporalException.IsCanceledException(ex);
            _errors.Add(new ErrorRecord(
                Workflow.UtcNow,
                _stage,
                cancelled ? "Cancelled" : ActivityErrors.TypeOf(ex),
                cancelled ? "The training run was cancelled." : ActivityErrors.Describe(ex),
                Handled: false));
            _stage = cancelled ? "cancelled" : "failed";
            var failure = WorkflowJson.Element(new { runId = id, status = _stage, errors = _errors, validation = _validation });
            await WorkflowSteps.PersistAsync(
                policy,
                _startedAt,
                cancelled ? ResultStatus.Cancelled : ResultStatus.Failed,
                run.Model,
                run.Version,
                null,
                failure,
                _errors[^1].Message);
            await WorkflowSteps.EmitAsync(policy, IEventModule.WorkflowFailed, failure);
            if (ex is FailureException || cancelled)
            {
                throw;
            }

            throw new ApplicationFailureException(ActivityErrors.Describe(ex), ActivityErrors.TypeOf(ex), nonRetryable: true);
        }
    }
}
