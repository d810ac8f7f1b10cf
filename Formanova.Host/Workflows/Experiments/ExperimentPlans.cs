using Formanova.Modules.Model;

namespace Formanova.Host.Workflows.Experiments;

internal static class ExperimentPlans
{
    public static ExperimentPlan Of(ExperimentInfo experiment) => new(
        experiment.Name,
        experiment.Model,
        experiment.Mode.ToString(),
        experiment.Arms.First(a => a.Control).Name,
        [.. experiment.Arms.Where(a => !a.Control).Select(a => a.Name)],
        experiment.Arms.ToDictionary(a => a.Name, a => a.Version),
        experiment.EvaluationInterval,
        experiment.MaxDuration,
        [.. experiment.Canary?.Steps ?? []],
        experiment.Canary?.StepInterval,
        experiment.AutoPromote,
        experiment.Status.ToString(),
        experiment.CreatedAt);
}
