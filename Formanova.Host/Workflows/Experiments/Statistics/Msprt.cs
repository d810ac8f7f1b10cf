namespace Formanova.Host.Workflows.Experiments.Statistics;

/// <summary>One look of the mixture sequential probability ratio test (docs/experiments.md, "Statistics").</summary>
/// <param name="Lambda">The mixture likelihood ratio Λ; 0 when there is no evidence to weigh (variance 0 and no difference).</param>
/// <param name="PValue">The always-valid p-value: the running minimum of min(1, 1/Λ) over the looks so far.</param>
/// <param name="Lower">The always-valid confidence sequence's lower bound on the difference.</param>
/// <param name="Upper">Its upper bound.</param>
/// <param name="Significant">Whether the null of no difference is rejected at this look (p ≤ α, i.e. some Λ ≥ 1/α).</param>
public sealed record MsprtLook(double Lambda, double PValue, double Lower, double Upper, bool Significant);

/// <summary>
/// The mixture SPRT of Johari et al. ("Always valid inference", 2017) on an asymptotically normal estimate θ̂ of a
/// difference with variance V, mixing over θ ~ N(0, τ²). Unlike a fixed-horizon test, its p-value and confidence
/// sequence stay valid however often the data is looked at and whenever the looking stops.
/// </summary>
public static class Msprt
{
    /// <summary>
    /// Λ = sqrt(V/(V+τ²))·exp(τ²θ̂²/(2V(V+τ²))), computed in logs so a large statistic does not overflow.
    /// </summary>
    public static double LogLambda(double estimate, double variance, double tau2)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tau2);
        if (!(variance > 0) || !double.IsFinite(variance) || !double.IsFinite(estimate))
        {
            return double.NegativeInfinity;
        }

        return (0.5 * Math.Log(variance / (variance + tau2)))
            + (tau2 * estimate * estimate / (2 * variance * (variance + tau2)));
    }

    /// <summary>
    /// The look at θ̂ with variance V: Λ, the running p-value (the previous look's <paramref name="previousPValue"/>,
    /// 1 at the first), the confidence sequence at level 1 − α and whether the null is rejected.
    /// </summary>
    public static MsprtLook Look(double estimate, double variance, double tau2, double alpha, double previousPValue = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(alpha);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(alpha, 1);
        var logLambda = LogLambda(estimate, variance, tau2);
        var p = Math.Min(Math.Clamp(previousPValue, 0, 1), Math.Min(1, Math.Exp(-logLambda)));
        var (lower, upper) = ConfidenceSequence(estimate, variance, tau2, alpha);
        return new MsprtLook(Math.Exp(logLambda), p, lower, upper, p <= alpha);
    }

    /// <summary>θ̂ ± sqrt(V(V+τ²)/τ² · (ln((V+τ²)/V) + 2 ln(1/α))): the θ values the test would not reject at α.</summary>
    public static (double Lower, double Upper) ConfidenceSequence(double estimate, double variance, double tau2, double alpha)
    {
        if (!(variance > 0) || !double.IsFinite(variance))
        {
            return (double.NegativeInfinity, double.PositiveInfinity);
        }

        var half = Math.Sqrt(variance * (variance + tau2) / tau2 * (Math.Log((variance + tau2) / variance) + (2 * Math.Log(1 / alpha))));
        return (estimate - half, estimate + half);
    }
}
