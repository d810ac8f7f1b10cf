using Formanova.Host.Workflows.Api;
using Formanova.Host.Workflows.Experiments;
using Formanova.Modules.Model;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Monitoring;

/// <summary>The experiment rollout: the retrained version against the version the check found active.</summary>
public sealed partial class ModelMonitoringWorkflow
{
    /// <summary>
    /// Stores the experiment, then starts its workflow as a child this run abandons when it ends: the experiment runs
    /// for as long as it needs (hours, days) while the start stays in this history, next to the check and the training.
    /// A start that fails (other than finding its workflow running) stops the stored experiment and fails the run.
    /// </summary>
    private async Task ExperimentAsync(MonitoringRunInput input, string candidate, MonitoringExperiment settings)
    {
        _stage = "starting experiment";
        var name = ExperimentName(input.Model, candidate);
        var request = new RolloutExperimentInput(input.Model, name, _check!.Version!, candidate, settings);
        var experiment = await Workflow.ExecuteActivityAsync(
            (MonitoringActivities a) => a.CreateExperimentAsync(request),
            input.Policy.For(t => t.Persist));
        if (!experiment.Created)
        {
            _rollout = "registered";
            _error = experiment.Note;
            return;
        }

        try
        {
            await Workflow.StartChildWorkflowAsync(
                (ExperimentWorkflow wf) => wf.RunAsync(new ExperimentInput(experiment.Name, input.Policy)),
                new ChildWorkflowOptions
                {
                    Id = ExperimentEndpoints.WorkflowId(experiment.Name),
                    ParentClosePolicy = ParentClosePolicy.Abandon,
                });
        }
        catch (WorkflowAlreadyStartedException)
        {
            // Its workflow runs already: the experiment is under way all the same.
        }
        catch (Exception) when (Workflow.Patched("monitoring-rollout-stop-unstarted"))
        {
            // Without its workflow nothing would decide or end the experiment, yet it would route traffic and block the
            // model's next one: stop it, as the create endpoint does, even while this run is being cancelled.
            var stop = new StatusChange(experiment.Name, nameof(ExperimentStatus.Stopped), null, ExperimentEndpoints.UnstartedReason);
            await Workflow.ExecuteActivityAsync(
                (ExperimentActivities a) => a.SetStatusAsync(stop),
                input.Policy.For(t => t.Persist, CancellationToken.None));
            throw;
        }

        _rollout = $"experiment {experiment.Name}";
    }

    /// <summary>
    /// The experiment's name: the model's and the new version's (<c>churn-2-20261207-120000</c>), so a repeated
    /// create finds its own, within the characters a name may have.
    /// </summary>
    private static string ExperimentName(string model, string version)
    {
        var suffix = version.Replace('.', '-').Replace('+', '-');
        var room = Math.Max(1, CreateExperimentRequest.MaxNameLength - suffix.Length - 1);
        return $"{(model.Length > room ? model[..room].TrimEnd('-', '_') : model)}-{suffix}";
    }
}
