using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Errors;
using Temporalio.Activities;

namespace Formanova.Host.Workflows.Training;

/// <summary>The steps of a <c>trainer: "auto"</c> search. Each candidate streams the rows itself, as train_model does.</summary>
internal sealed class AutoTrainingActivities(IDataModule data, IModelModule models)
{
    private static ActivityExecutionContext Context => ActivityExecutionContext.Current;

    /// <summary>The candidates and the selection metric; an unknown metric is InvalidInputError, not retried.</summary>
    [Activity("plan_auto_training")]
    public AutoTrainingPlan PlanAutoTraining(TrainingRunInput run)
    {
        try
        {
            return models.PlanAutoTraining(run.Task, run.SelectionMetric);
        }
        catch (ModuleException ex)
        {
            throw ActivityErrors.ToFailure(ex);
        }
    }

    /// <summary>Fits and scores one candidate, heartbeating through the fit; the run's cancellation or budget stops it.</summary>
    [Activity("evaluate_training_candidate")]
    public Task<CandidateEvaluation> EvaluateCandidateAsync(CandidateInput input) => ActivityErrors.GuardAsync(async () =>
    {
        var run = input.Run;
        var ct = Context.CancellationToken;
        var stream = await data.OpenRowStreamAsync(run.DatasetId, run.Transforms, ct);
        var (_, sources, _) = TrainingActivities.Map(stream.Columns, run);
        var progress = new Progress<TrainingProgress>(p => Context.Heartbeat(new TrainingHeartbeat(p.Stage, p.RowsRead, p.Fraction)));
        var request = new EvaluateCandidateRequest(
            run.Task,
            input.Prepared.Columns,
            input.Candidate,
            input.Metric,
            input.ClassWeighting,
            run.Seed,
            run.TestFraction,
            Threads: Math.Max(1, Environment.ProcessorCount / Math.Max(1, input.Parallelism)));
        return await models.EvaluateCandidateAsync(request, TrainingActivities.Project(stream.Rows, sources), progress, ct);
    });
}
