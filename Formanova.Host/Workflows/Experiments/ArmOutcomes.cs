using Formanova.Modules.Data;

namespace Formanova.Host.Workflows.Experiments;

/// <summary>
/// One arm's outcomes over the window: the summary's groups of the experiment's arm taken together (an arm is
/// usually one group; a version answered by fallback makes another). Counts and loss sums add; p95 is the largest
/// group's (an upper bound when there are several); AUC is the group with the largest AUC sample's.
/// </summary>
internal sealed record ArmOutcomes(
    long Count,
    long WithFeedback,
    long Failed,
    long Fallbacks,
    double? P95LatencyMs,
    LossStatistics? Correct,
    LossStatistics? LogLoss,
    LossStatistics? SquaredError,
    LossStatistics? AbsoluteError,
    double? Auc,
    long Positives,
    long Negatives)
{
    public static readonly ArmOutcomes Empty = new(0, 0, 0, 0, null, null, null, null, null, null, 0, 0);

    public double ErrorRate => Count == 0 ? 0 : Failed / (double)Count;

    public double FallbackRate => Count == 0 ? 0 : Fallbacks / (double)Count;

    public static ArmOutcomes Of(IReadOnlyCollection<OutcomeGroup> groups)
    {
        if (groups.Count == 0)
        {
            return Empty;
        }

        var auc = groups.Where(g => g.Auc is not null).MaxBy(g => g.AucSampleRows ?? 0);
        return new ArmOutcomes(
            groups.Sum(g => g.Count),
            groups.Sum(g => g.WithFeedback),
            groups.Sum(g => g.Failed),
            groups.Sum(g => g.Fallbacks),
            groups.Max(g => g.P95LatencyMs),
            Add(groups.Select(g => g.Correct)),
            Add(groups.Select(g => g.LogLossStatistics)),
            Add(groups.Select(g => g.SquaredError)),
            Add(groups.Select(g => g.AbsoluteError)),
            auc?.Auc,
            auc?.AucPositives ?? 0,
            auc?.AucNegatives ?? 0);
    }

    private static LossStatistics? Add(IEnumerable<LossStatistics?> statistics)
    {
        var given = statistics.OfType<LossStatistics>().ToList();
        return given.Count == 0
            ? null
            : new LossStatistics(given.Sum(s => s.N), given.Sum(s => s.Sum), given.Sum(s => s.SumOfSquares));
    }
}
