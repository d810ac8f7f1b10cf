using Formanova.Modules.Data;

namespace Formanova.Host.Workflows.Experiments.Statistics;

/// <summary>
/// An arm's estimate of the decision scale's mean (accuracy, mean log-loss, mean squared or absolute error, AUC), the
/// variance of that estimate, the per-observation variance it came from and the sample size.
/// </summary>
public sealed record ArmEstimate(double Mean, double Variance, double UnitVariance, long N)
{
    /// <summary>Below this many observations an arm's estimate is not used: a variance needs two values at least.</summary>
    public const long MinimumN = 2;

    public bool Usable => N >= MinimumN && double.IsFinite(Mean) && double.IsFinite(Variance);

    /// <summary>The mean of a per-prediction loss from its sufficient statistics, with the sample variance s²/n.</summary>
    public static ArmEstimate? FromLoss(LossStatistics? statistics)
    {
        if (statistics is not { N: > 0 } s)
        {
            return null;
        }

        var mean = s.Sum / s.N;
        var unit = SampleVariance(s);
        return new ArmEstimate(mean, unit / s.N, unit, s.N);
    }

    /// <summary>s² = (Σx² − n·x̄²)/(n − 1), never negative (rounding can make it so); 0 below two values.</summary>
    public static double SampleVariance(LossStatistics s) =>
        s.N < 2 ? 0 : Math.Max(0, (s.SumOfSquares - (s.Sum * s.Sum / s.N)) / (s.N - 1));

    /// <summary>
    /// An AUC with the Hanley–McNeil (1982) variance: (A(1−A) + (n₊−1)(Q₁−A²) + (n₋−1)(Q₂−A²)) / (n₊n₋), where
    /// Q₁ = A/(2−A) and Q₂ = 2A²/(1+A). Its size is the smaller class count (an AUC needs both classes).
    /// </summary>
    public static ArmEstimate? FromAuc(double? auc, long positives, long negatives)
    {
        if (auc is not double a || !double.IsFinite(a) || positives < 1 || negatives < 1)
        {
            return null;
        }

        a = Math.Clamp(a, 0, 1);
        var q1 = a / (2 - a);
        var q2 = 2 * a * a / (1 + a);
        var variance = Math.Max(
            0,
            ((a * (1 - a)) + ((positives - 1) * (q1 - (a * a))) + ((negatives - 1) * (q2 - (a * a)))) / (positives * (double)negatives));
        var n = Math.Min(positives, negatives);

        // The per-observation scale the mixing variance is set against: V times the effective size of the comparison.
        var unit = variance * (positives * (double)negatives) / (positives + negatives);
        return new ArmEstimate(a, variance, unit, n);
    }
}
