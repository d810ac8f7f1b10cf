using Formanova.Modules.Model;

namespace Formanova.Host.Monitoring;

/// <summary>
/// The statistics of a check (docs/monitoring.md, "Statistics"): the population stability index of the live counts
/// against the reference's, over the same bins or categories, and the data-quality rates.
/// </summary>
internal static class DriftStatistics
{
    /// <summary>PSI below this is stable: the conventional lower band.</summary>
    public const double Moderate = 0.1;

    /// <summary>PSI from here on is a significant shift: the conventional upper band.</summary>
    public const double Significant = 0.25;

    // An empty bin on either side would make PSI infinite; a share floor keeps one empty bin's term large but finite.
    private const double Floor = 1e-4;

    /// <summary>PSI = Σ (live − reference) · ln(live / reference) over the shares of each bin; 0 when either side is empty.</summary>
    public static double Psi(IReadOnlyList<long> reference, IReadOnlyList<long> live)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(live);
        double expectedTotal = reference.Sum(), actualTotal = live.Sum();
        if (expectedTotal == 0 || actualTotal == 0 || reference.Count != live.Count)
        {
            return 0;
        }

        var psi = 0.0;
        for (var i = 0; i < reference.Count; i++)
        {
            var expected = Math.Max(reference[i] / expectedTotal, Floor);
            var actual = Math.Max(live[i] / actualTotal, Floor);
            psi += (actual - expected) * Math.Log(actual / expected);
        }

        return psi;
    }

    public static string Band(double psi) => psi < Moderate ? "stable" : psi < Significant ? "moderate" : "significant";

    /// <summary>The windows of one version added up (each instance flushes its own).</summary>
    public static LiveWindow? Merge(IReadOnlyList<LiveWindow> windows)
    {
        ArgumentNullException.ThrowIfNull(windows);
        if (windows.Count == 0)
        {
            return null;
        }

        var first = windows[0];
        return first with
        {
            Start = windows.Min(w => w.Start),
            End = windows.Max(w => w.End),
            Rows = windows.Sum(w => w.Rows),
            Features = [.. first.Features.Select((f, i) => Sum([.. windows.Select(w => w.Features[i])]))],
            Predictions = Sum([.. windows.Select(w => w.Predictions)]),
        };
    }

    /// <summary>One feature's drift and data quality against its reference, with the thresholds it crossed.</summary>
    public static FeatureDrift Feature(ColumnProfile reference, LiveCounts live, long rows, MonitoringThresholds thresholds)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(thresholds);
        var psi = Psi(Expected(reference), Observed(reference, live));
        var nullRate = rows == 0 ? 0 : (double)live.Nulls / rows;
        var outOfRange = rows == 0 ? 0 : (double)live.OutOfRange / rows;
        var unseen = 0.0;
        if (reference.Categorical is { } categorical && rows > 0)
        {
            // Values the reference does not name are expected at its own "other" share; only the excess is unseen.
            var expectedOther = reference.Count == 0 ? 0 : (double)categorical.Other / reference.Count;
            unseen = Math.Max(0, ((double)live.Other / rows) - expectedOther);
        }

        var breaches = new List<string>();
        if (psi >= thresholds.FeatureDrift)
        {
            breaches.Add("featureDrift");
        }

        if (nullRate - reference.NullRate > thresholds.MaxNullRateIncrease)
        {
            breaches.Add("nullRate");
        }

        if (outOfRange > thresholds.MaxOutOfRangeRate)
        {
            breaches.Add("outOfRange");
        }

        if (unseen > thresholds.MaxUnseenRate)
        {
            breaches.Add("unseenCategories");
        }

        return new FeatureDrift(
            reference.Name, Round(psi), Band(psi), rows, Round(nullRate), Round(reference.NullRate), Round(outOfRange), Round(unseen),
            psi >= thresholds.FeatureDrift, breaches);
    }

    /// <summary>The PSI of the live predictions against the test split's.</summary>
    public static double Prediction(ColumnProfile reference, LiveCounts live) =>
        Round(Psi(Expected(reference), Observed(reference, live)));

    private static IReadOnlyList<long> Expected(ColumnProfile reference) => reference.Numeric is { } numeric
        ? numeric.Counts
        : [.. reference.Categorical!.Counts, reference.Categorical.Other];

    private static IReadOnlyList<long> Observed(ColumnProfile reference, LiveCounts live) =>
        reference.Numeric is not null ? live.Counts : [.. live.Counts, live.Other];

    private static LiveCounts Sum(IReadOnlyList<LiveCounts> counts) => new(
        counts[0].Name,
        [.. counts[0].Counts.Select((_, i) => counts.Sum(c => c.Counts[i]))],
        counts.Sum(c => c.Other),
        counts.Sum(c => c.Nulls),
        counts.Sum(c => c.OutOfRange));

    private static double Round(double value) => Math.Round(value, 6);
}
