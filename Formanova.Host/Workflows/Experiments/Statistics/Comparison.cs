using Formanova.Modules.Model;

namespace Formanova.Host.Workflows.Experiments.Statistics;

/// <summary>Which arm the evidence favours once the test rejects; <see cref="None"/> until it does.</summary>
public enum Favours
{
    None,
    Candidate,
    Control,
}

/// <summary>
/// A candidate against the control at one look, on the decision scale (accuracy, mean log-loss, mean squared error for
/// RMSE, MAE, AUC): the difference candidate − control, its variance, the mixing variance τ², the test's Λ,
/// always-valid p-value and confidence sequence, and which arm it favours. Values that are not finite (Λ beyond
/// double's range, an unbounded sequence) are null, so the record travels as JSON through workflow history.
/// </summary>
public sealed record Comparison(
    double Difference,
    double Variance,
    double Tau2,
    double? Lambda,
    double PValue,
    double? Lower,
    double? Upper,
    bool Significant,
    Favours Favours);

/// <summary>The decision rules of docs/experiments.md, "Statistics".</summary>
public static class ExperimentStatistics
{
    /// <summary>
    /// The effect, in per-prediction standard deviations, the mixing distribution is centred on in spread:
    /// τ = 0.2·σ (Cohen's "small"). The mSPRT is most powerful against differences near τ, and reaches them near
    /// n ≈ 2σ²/τ² = 50 per arm; a larger τ detects large effects sooner and small ones later.
    /// </summary>
    public const double StandardisedEffect = 0.2;

    /// <summary>Below this τ² (both arms' losses constant) the test has nothing to weigh.</summary>
    private const double MinimumTau2 = 1e-12;

    public static bool HigherIsBetter(ExperimentMetric metric) => metric is ExperimentMetric.Accuracy or ExperimentMetric.Auc;

    /// <summary>Bonferroni: each of <paramref name="candidates"/> comparisons with the control is tested at α/k.</summary>
    public static double PerComparisonAlpha(double alpha, int candidates) => alpha / Math.Max(1, candidates);

    /// <summary>
    /// The per-prediction variance of both arms taken as one sample (within plus between), from the arms' means,
    /// sample variances and sizes.
    /// </summary>
    public static double PooledUnitVariance(ArmEstimate a, ArmEstimate b)
    {
        var n = a.N + b.N;
        if (n < 2)
        {
            return 0;
        }

        var mean = ((a.N * a.Mean) + (b.N * b.Mean)) / n;
        var squares = (Math.Max(0, a.N - 1) * a.UnitVariance) + (Math.Max(0, b.N - 1) * b.UnitVariance)
            + (a.N * (a.Mean - mean) * (a.Mean - mean)) + (b.N * (b.Mean - mean) * (b.Mean - mean));
        return squares / (n - 1);
    }

    /// <summary>τ² = (<see cref="StandardisedEffect"/>·σ)² with σ² the pooled per-prediction variance.</summary>
    public static double MixingVariance(ArmEstimate control, ArmEstimate candidate) =>
        Math.Max(MinimumTau2, StandardisedEffect * StandardisedEffect * PooledUnitVariance(control, candidate));

    /// <summary>
    /// The look at <paramref name="candidate"/> against <paramref name="control"/> at level <paramref name="alpha"/>
    /// (already divided among the candidates), carrying the previous look's p-value. An arm whose values are all
    /// equal (variance 0: every prediction right, say) borrows the pooled variance, so two small constant arms do
    /// not make an infinitely sure difference. Null while either arm has fewer than <see cref="ArmEstimate.MinimumN"/>
    /// values.
    /// </summary>
    public static Comparison? Compare(
        ExperimentMetric metric,
        ArmEstimate control,
        ArmEstimate candidate,
        double alpha,
        double previousPValue)
    {
        if (!control.Usable || !candidate.Usable)
        {
            return null;
        }

        var pooled = PooledUnitVariance(control, candidate);
        var variance = Floored(control, pooled) + Floored(candidate, pooled);
        var difference = candidate.Mean - control.Mean;
        var tau2 = MixingVariance(control, candidate);
        var look = Msprt.Look(difference, variance, tau2, alpha, previousPValue);
        var favours = !look.Significant || difference == 0
            ? Favours.None
            : (difference > 0) == HigherIsBetter(metric) ? Favours.Candidate : Favours.Control;
        var (lambda, lower, upper) = (Finite(look.Lambda), Finite(look.Lower), Finite(look.Upper));
        return new Comparison(difference, variance, tau2, lambda, look.PValue, lower, upper, look.Significant, favours);
    }

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    private static double Floored(ArmEstimate arm, double pooled) =>
        arm.Variance > 0 ? arm.Variance : pooled / arm.N;
}
