using Formanova.Host.Workflows.Experiments.Statistics;
using Formanova.Modules.Data;
using Formanova.Modules.Model;

namespace Formanova.Host.Workflows.Experiments;

/// <summary>
/// A look at an experiment from its stored definition and the window's outcomes (docs/experiments.md, "The
/// workflow"): guards first, then the sequential test of each candidate against the control.
/// </summary>
internal static class ExperimentEvaluator
{
    /// <summary>
    /// A guard fires only once the candidate has answered this many predictions in the window: one failure in the
    /// first three requests is a 33 % error rate, not evidence.
    /// </summary>
    public const long GuardMinimumCount = 20;

    /// <summary>The two-sided 95 % normal quantile of the arms' descriptive intervals.</summary>
    private const double Z95 = 1.959963984540054;

    public static ExperimentLook Evaluate(
        ExperimentInfo experiment,
        IReadOnlyList<OutcomeGroup> groups,
        IReadOnlyDictionary<string, double> pValues,
        DateTimeOffset at)
    {
        var outcomes = experiment.Arms.ToDictionary(
            a => a.Name,
            a => ArmOutcomes.Of([.. groups.Where(g => g.Experiment == experiment.Name && g.Arm == a.Name)]));
        var metric = experiment.PrimaryMetric;
        var arms = experiment.Arms.Select(a => Arm(a, outcomes[a.Name], metric)).ToList();
        var control = experiment.Arms.First(a => a.Control);
        var candidates = experiment.Arms.Where(a => !a.Control).ToList();
        var alpha = ExperimentStatistics.PerComparisonAlpha(experiment.Alpha, candidates.Count);
        var controlEstimate = Estimate(outcomes[control.Name], metric);
        var comparisons = candidates.Select(c => new CandidateLook(
                c.Name,
                controlEstimate is null || Estimate(outcomes[c.Name], metric) is not { } estimate
                    ? null
                    : ExperimentStatistics.Compare(metric, controlEstimate, estimate, alpha, pValues.GetValueOrDefault(c.Name, 1))))
            .ToList();

        var (verdict, arm, reason) = Guards(experiment, candidates, outcomes) ?? Verdict(experiment, arms, comparisons);
        return new ExperimentLook(
            at, experiment.CreatedAt, experiment.Status.ToString(), alpha, arms, comparisons, verdict, arm, reason);
    }

    /// <summary>The decision scale's estimate of an arm: the loss the metric averages, or the AUC.</summary>
    public static ArmEstimate? Estimate(ArmOutcomes arm, ExperimentMetric metric) => metric switch
    {
        ExperimentMetric.Accuracy => ArmEstimate.FromLoss(arm.Correct),
        ExperimentMetric.LogLoss => ArmEstimate.FromLoss(arm.LogLoss),
        ExperimentMetric.Rmse => ArmEstimate.FromLoss(arm.SquaredError),
        ExperimentMetric.Mae => ArmEstimate.FromLoss(arm.AbsoluteError),
        _ => ArmEstimate.FromAuc(arm.Auc, arm.Positives, arm.Negatives),
    };

    private static ArmLook Arm(ExperimentArm arm, ArmOutcomes outcomes, ExperimentMetric metric)
    {
        var estimate = Estimate(outcomes, metric);
        double? value = null, lower = null, upper = null;
        if (estimate is not null)
        {
            var half = Z95 * Math.Sqrt(estimate.Variance);
            (value, lower, upper) = (estimate.Mean, estimate.Mean - half, estimate.Mean + half);
            if (metric == ExperimentMetric.Rmse)
            {
                // Decided on the mean squared error; shown as its root.
                (value, lower, upper) = (Math.Sqrt(estimate.Mean), Math.Sqrt(Math.Max(0, lower.Value)), Math.Sqrt(upper.Value));
            }
        }

        return new ArmLook(
            arm.Name,
            arm.Version,
            arm.Control,
            arm.Weight,
            outcomes.Count,
            outcomes.WithFeedback,
            outcomes.ErrorRate,
            outcomes.FallbackRate,
            outcomes.P95LatencyMs,
            value,
            lower,
            upper);
    }

    private static (LookVerdict Verdict, string? Arm, string? Reason)? Guards(
        ExperimentInfo experiment,
        IEnumerable<ExperimentArm> candidates,
        IReadOnlyDictionary<string, ArmOutcomes> outcomes)
    {
        var guards = experiment.Guards;
        foreach (var candidate in candidates)
        {
            var arm = outcomes[candidate.Name];
            if (arm.Count < GuardMinimumCount)
            {
                continue;
            }

            var breach = guards.MaxErrorRate is double maxError && arm.ErrorRate > maxError
                ? $"error rate {arm.ErrorRate:0.###} over {arm.Count} predictions exceeds {maxError}"
                : guards.MaxFallbackRate is double maxFallback && arm.FallbackRate > maxFallback
                    ? $"fallback rate {arm.FallbackRate:0.###} over {arm.Count} predictions exceeds {maxFallback}"
                    : guards.MaxP95LatencyMs is double maxLatency && arm.P95LatencyMs > maxLatency
                        ? $"p95 latency {arm.P95LatencyMs:0.#} ms exceeds {maxLatency} ms"
                        : null;
            if (breach is not null)
            {
                return (LookVerdict.GuardBreached, candidate.Name, $"{candidate.Name}: {breach}");
            }
        }

        return null;
    }

    private static (LookVerdict Verdict, string? Arm, string? Reason) Verdict(
        ExperimentInfo experiment,
        List<ArmLook> arms,
        List<CandidateLook> candidates)
    {
        if (arms.FirstOrDefault(a => a.WithFeedback < experiment.MinSamplesPerArm) is { } waiting)
        {
            var reason = $"{waiting.Name} has {waiting.WithFeedback} of {experiment.MinSamplesPerArm} predictions with feedback";
            return (LookVerdict.Continue, null, reason);
        }

        var higher = ExperimentStatistics.HigherIsBetter(experiment.PrimaryMetric);
        var best = candidates.Where(c => c.Comparison?.Favours == Favours.Candidate)
            .MaxBy(c => higher ? c.Comparison!.Difference : -c.Comparison!.Difference);
        if (best is not null)
        {
            var c = best.Comparison!;
            return (LookVerdict.CandidateWins, best.Arm, $"{best.Arm} beats the control by {c.Difference:0.####} (p = {c.PValue:0.####})");
        }

        if (candidates.All(c => c.Comparison?.Favours == Favours.Control))
        {
            var control = arms.First(a => a.Control).Name;
            return (LookVerdict.ControlWins, control, "every candidate is significantly worse than the control");
        }

        return (LookVerdict.Continue, null, "no significant difference yet");
    }
}
