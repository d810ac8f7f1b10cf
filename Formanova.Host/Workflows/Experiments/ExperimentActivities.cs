using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Errors;
using Temporalio.Activities;

namespace Formanova.Host.Workflows.Experiments;

/// <summary>The experiment workflow's steps: read the experiment, look at its outcomes, change it in the store, emit.</summary>
internal sealed class ExperimentActivities(IExperimentModule experiments, IDataModule data, IEventModule events, TimeProvider time)
{
    private static CancellationToken Cancellation => ActivityExecutionContext.Current.CancellationToken;

    [Activity("read_experiment")]
    public Task<ExperimentPlan> ReadAsync(string name) => ActivityErrors.GuardAsync(async () =>
        ExperimentPlans.Of(await experiments.GetAsync(name, Cancellation)));

    /// <summary>
    /// The outcomes of the experiment's arms since it was created, from the durable prediction log: a restarted or
    /// continued run counts everything again rather than trusting counts it carried.
    /// </summary>
    [Activity("evaluate_experiment")]
    public Task<ExperimentLook> EvaluateAsync(EvaluateInput input) => ActivityErrors.GuardAsync(async () =>
    {
        var experiment = await experiments.GetAsync(input.Name, Cancellation);
        var now = time.GetUtcNow();
        var summary = await data.SummarizeOutcomesAsync(
            experiment.Model, experiment.CreatedAt, now.AddTicks(1), cancellationToken: Cancellation);
        return ExperimentEvaluator.Evaluate(experiment, summary.Groups, input.PValues, now);
    });

    [Activity("set_experiment_weights")]
    public Task<bool> SetWeightsAsync(string name, Dictionary<string, double> weights) => ActivityErrors.GuardAsync(async () =>
    {
        await experiments.SetWeightsAsync(name, weights, Cancellation);
        return true;
    });

    /// <summary>
    /// Moves the stored experiment. A retry after the change went through finds it already there and succeeds; a
    /// final status reached otherwise stays a conflict.
    /// </summary>
    [Activity("set_experiment_status")]
    public Task<string> SetStatusAsync(StatusChange change) => ActivityErrors.GuardAsync(async () =>
    {
        var status = Enum.Parse<ExperimentStatus>(change.Status);
        try
        {
            return (await experiments.SetStatusAsync(change.Name, status, change.Winner, change.Reason, Cancellation)).Status.ToString();
        }
        catch (ModuleException ex) when (ex.Kind == ErrorKind.Conflict)
        {
            var stored = await experiments.GetAsync(change.Name, Cancellation);
            if (stored.Status != status)
            {
                throw;
            }

            return stored.Status.ToString();
        }
    });

    [Activity("emit_experiment_event")]
    public Task<long> EmitAsync(ExperimentEvent change) => ActivityErrors.GuardAsync(async () =>
    {
        var id = ActivityExecutionContext.Current.Info.WorkflowId;
        var data = new { experiment = change.Experiment, model = change.Model, winner = change.Winner, reason = change.Reason };
        var published = await events.PublishAsync(
            new PublishEventRequest(
                change.Type,
                $"/workflows/{id}",
                WorkflowJson.Element(data),
                $"{change.Model}/{change.Experiment}",
                $"{id}:{change.Type}",
                id,
                $"/api/v1/experiments/{change.Experiment}"),
            Cancellation);
        return published.Event.Sequence;
    });
}
