using Formanova.Host.Workflows.Common;
using Formanova.Host.Workflows.Promotion;
using Formanova.Host.Workflows.Training;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Monitoring;

/// <summary>
/// Model monitoring (docs/monitoring.md): check the active version against its training profile and its feedback,
/// emit MODEL_DRIFT_DETECTED / MODEL_PERFORMANCE_DEGRADED when a threshold is crossed, and, if the policy says so,
/// retrain (a ModelTrainingWorkflow child, its quality gate included) and roll out (a ModelPromotionSaga child, an
/// ExperimentWorkflow child that outlives this run, or leave it for approval): the whole chain in this one
/// history. Started by the model's monitoring schedule or by
/// <c>POST /models/{name}/monitoring/check</c>.
/// </summary>
[Workflow]
public sealed partial class ModelMonitoringWorkflow
{
    private string _stage = "checking";
    private MonitoringCheck? _check;
    private string? _retrainRunId;
    private string? _newVersion;
    private string? _rollout;
    private string? _error;

    [WorkflowQuery("get_state")]
    public MonitoringState GetState() => new(_stage, _check, _retrainRunId, _newVersion, _rollout, _error);

    [WorkflowRun]
    public async Task<MonitoringRunResult> RunAsync(MonitoringRunInput input)
    {
        var policy = input.Policy;
        var decision = await Workflow.ExecuteActivityAsync(
            (MonitoringActivities a) => a.CheckModelAsync(input.Model),
            policy.For(t => t.Aggregate));
        _check = decision.Check;
        foreach (var type in decision.Events)
        {
            await WorkflowSteps.EmitAsync(policy, type, Gist(_check), input.Model);
        }

        if (decision.Retrain is { } run)
        {
            await RetrainAsync(input, run, decision);
        }

        _stage = "completed";
        return new MonitoringRunResult(input.Model, _check.Status, [.. _check.Breaches], _newVersion, _rollout, decision.Note ?? _error);
    }

    private async Task RetrainAsync(MonitoringRunInput input, TrainingRunInput run, MonitoringDecision decision)
    {
        var rollout = decision.Rollout;
        _stage = "retraining";
        _retrainRunId = $"{Workflow.Info.WorkflowId}-retrain";
        TrainingRunResult trained;
        try
        {
            // The rollout decides what becomes active, never the training run itself.
            var retrain = run with { Activate = false, RequireApproval = false };
            trained = await Workflow.ExecuteChildWorkflowAsync(
                (ModelTrainingWorkflow wf) => wf.RunAsync(retrain),
                new ChildWorkflowOptions { Id = _retrainRunId });
        }
        catch (ChildWorkflowFailureException ex)
        {
            // A retrained version that fails its quality gate is archived by the training run; nothing rolls out.
            _error = $"Retraining failed: {ex.InnerException?.Message ?? ex.Message}";
            _rollout = "none";
            return;
        }

        _newVersion = trained.Version;
        if (rollout == MonitoringRollout.Promote)
        {
            _stage = "promoting";
            var saga = await Workflow.ExecuteChildWorkflowAsync(
                (ModelPromotionSaga wf) => wf.RunAsync(new PromotionInput(input.Model, trained.Version, null, input.Policy)),
                new ChildWorkflowOptions { Id = $"{Workflow.Info.WorkflowId}-promote" });
            _rollout = saga.Status == "completed" ? "promoted" : $"promotion {saga.Status}";
        }
        else if (rollout == MonitoringRollout.Experiment && Workflow.Patched("monitoring-rollout-experiment"))
        {
            await ExperimentAsync(input, trained.Version, decision.Experiment ?? new MonitoringExperiment());
        }
        else
        {
            _rollout = rollout == MonitoringRollout.Approval ? "awaiting approval" : "registered";
        }

        var retrained = new
        {
            model = input.Model,
            version = trained.Version,
            previousVersion = _check!.Version,
            runId = _retrainRunId,
            rollout = _rollout,
            approvalNeeded = rollout == MonitoringRollout.Approval,
            metrics = trained.Metrics,
        };
        await WorkflowSteps.EmitAsync(input.Policy, IEventModule.ModelRetrained, retrained, input.Model);
    }

    private static object Gist(MonitoringCheck check) => new
    {
        model = check.Model,
        version = check.Version,
        status = check.Status,
        breaches = check.Breaches,
        rows = check.Rows,
        predictionDrift = check.PredictionDrift,
        features = check.Features.Where(f => f.Breaches.Count > 0)
            .Select(f => new { feature = f.Feature, psi = f.Psi, breaches = f.Breaches }),
        performance = check.Performance,
        checkedAt = check.CheckedAt,
    };
}
