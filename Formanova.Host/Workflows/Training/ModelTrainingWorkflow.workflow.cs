using Formanova.Host.Workflows.Common;
using Formanova.Modules.Event;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Training;

/// <summary>
/// Training (docs/workflows.md, "ModelTrainingWorkflow"): prepare the data (2 h), train (4 h, heartbeats, 3 attempts,
/// out-of-memory and invalid configuration not retried), validate against the request's thresholds, register; then,
/// if asked, wait for approval (a timer is the deadline) before activating the new version.
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
    private AutoTrainingSummary? _auto;

    [WorkflowQuery("get_progress")]
    public TrainingProgressView GetProgress()
        => new(_stage, _progress, _startedAt, _prepared, _trained, _validation, _approval, _deadline, _errors, _auto);

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
        if (run.ScheduledMajor is { } major)
        {
            // A schedule starts every run with the same input; the start time (recorded, so replay sees the same)
            // gives each its own version. No command is added, so older histories replay unchanged.
            run = run with { Version = TrainingVersions.Scheduled(major, _startedAt) };
        }

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
            _prepared = await TrainingSteps.PrepareAsync(run);

            // Runs started before the search existed failed on the trainer name "auto"; their histories stay that way.
            if (AutoTrainingSteps.IsAuto(run) && Workflow.Patched("training-auto-search"))
            {
                _stage = "searching";
                _auto = await AutoTrainingSteps.SweepAsync(run, _prepared, summary => _auto = summary);
            }

            _stage = "training";
            _progress = 20;
            _trained = await TrainingSteps.TrainAsync(run, _prepared, _auto);

            _stage = "validating";
            _progress = 80;
            _validation = await TrainingSteps.ValidateAsync(run, _trained);
            if (!_validation.Passed)
            {
                await TrainingSteps.ArchiveAsync(run);
                throw new ApplicationFailureException(
                    $"{run.Model} {run.Version} failed validation: {string.Join(" ", _validation.Failures)}",
                    ErrorTypes.ModelValidation,
                    nonRetryable: true);
            }

            _stage = "registering";
            _progress = 90;
            await TrainingSteps.RegisterAsync(run, _trained);

            var activate = run.RequireApproval ? await AwaitApprovalAsync(run) : run.Activate;
            if (activate)
            {
                _stage = "activating";
                await TrainingSteps.ActivateAsync(run);
            }

            var outcome = run.RequireApproval && !activate
                ? $"registered, not activated ({_approval})"
                : activate ? "activated" : "registered";
            var result = new TrainingRunResult(run.Model, run.Version, outcome, _trained.Metrics, activate, _approval, [], _auto);
            await WorkflowSteps.CloseSucceededAsync(policy, _startedAt, run.Model, run.Version, WorkflowJson.Element(result), result);
            _stage = "completed";
            _progress = 100;
            return result;
        }
        catch (Exception ex) when (RunFailure.ClosesRun(ex))
        {
            var failure = RunFailure.Of(ex, _stage, "The training run was cancelled.");
            _errors.Add(failure.Error);
            _stage = failure.Stage;
            var (problems, omitted) = TrainingProblems.Of(ex, _prepared?.Columns.Select(c => c.Name).ToList() ?? []);
            var output = WorkflowJson.Element(new
            {
                runId = id,
                status = _stage,
                errors = _errors,
                validation = _validation,
                problems,
                problemsOmitted = omitted,
                auto = _auto,
            });
            if (!failure.Cancelled && Workflow.Patched("training-failed-event"))
            {
                await WorkflowSteps.EmitAsync(policy, IEventModule.TrainingFailed, new
                {
                    runId = id,
                    model = run.Model,
                    version = run.Version,
                    stage = failure.Error.Stage,
                    type = failure.Error.Type,
                    message = failure.Error.Message,
                    problems,
                    problemsOmitted = omitted,
                });
            }

            await WorkflowSteps.CloseFailedAsync(policy, _startedAt, failure, run.Model, run.Version, output);
            throw;
        }
    }

    /// <summary>Waits for approve or reject until the deadline; a version not approved is archived.</summary>
    private async Task<bool> AwaitApprovalAsync(TrainingRunInput run)
    {
        _stage = "awaiting-approval";
        _deadline = Workflow.UtcNow.AddSeconds(run.ApprovalTimeoutSeconds);
        var decided = await Workflow.WaitConditionAsync(() => _approval is not null, TimeSpan.FromSeconds(run.ApprovalTimeoutSeconds));
        if (!decided)
        {
            _approval = "expired";
        }

        if (_approval != "approved")
        {
            await TrainingSteps.ArchiveAsync(run);
            return false;
        }

        return true;
    }
}
