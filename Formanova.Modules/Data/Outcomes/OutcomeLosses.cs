using System.Text.Json;

namespace Formanova.Modules.Data.Outcomes;

/// <summary>The per-prediction losses stored with feedback, and the metrics of a group computed from their sums.</summary>
internal static class OutcomeLosses
{
    // A probability of 0 for the true class would make the log-loss infinite; this caps one prediction's loss at ~34.5.
    private const double MinProbability = 1e-15;

    public readonly record struct Losses(double? Correct, double? LogLoss, double? AbsError);

    /// <summary>Why the item's outcome does not fit <paramref name="task"/>, or null when it does.</summary>
    public static string? TypeError(OutcomeTask task, FeedbackItem item) => task switch
    {
        OutcomeTask.Regression when item.Value is null || !double.IsFinite(item.Value.Value) =>
            "This prediction is a regression: the outcome is a finite number.",
        OutcomeTask.Regression => null,
        _ when item.Label is null => "This prediction is a classification: the outcome is the true class, as a string (or a boolean).",
        _ => null,
    };

    public static bool SameOutcome(string? label, double? value, FeedbackItem item) =>
        label is not null ? string.Equals(label, item.Label, StringComparison.Ordinal) : value == item.Value;

    public static Losses Of(OutcomeTask task, string? label, double? value, string? probabilities, FeedbackItem item)
    {
        if (task == OutcomeTask.Regression)
        {
            return new Losses(null, null, value is { } predicted ? Math.Abs(predicted - item.Value!.Value) : null);
        }

        double? logLoss = null;
        if (probabilities is not null)
        {
            var map = JsonSerializer.Deserialize<Dictionary<string, double>>(probabilities) ?? [];
            var p = map.TryGetValue(item.Label!, out var probability) ? probability : 0;
            logLoss = -Math.Log(Math.Clamp(double.IsFinite(p) ? p : 0, MinProbability, 1));
        }

        return new Losses(string.Equals(label, item.Label, StringComparison.Ordinal) ? 1 : 0, logLoss, null);
    }

    /// <summary>
    /// The area under the ROC curve of scores against outcomes (<c>true</c> positive), as the Mann–Whitney statistic
    /// with ties counted half; null unless both classes are present.
    /// </summary>
    public static double? Auc(IReadOnlyList<(double Score, string? Outcome)> sample)
    {
        var ranked = sample.OrderBy(s => s.Score).ToList();
        long positives = ranked.Count(s => IsPositive(s.Outcome));
        var negatives = ranked.Count - positives;
        if (positives == 0 || negatives == 0)
        {
            return null;
        }

        // Average ranks over tied scores, then U = (sum of positive ranks) - P(P+1)/2.
        var rankSum = 0.0;
        for (var i = 0; i < ranked.Count;)
        {
            var j = i;
            while (j < ranked.Count && ranked[j].Score == ranked[i].Score)
            {
                j++;
            }

            var averageRank = (i + 1 + j) / 2.0;
            for (var k = i; k < j; k++)
            {
                if (IsPositive(ranked[k].Outcome))
                {
                    rankSum += averageRank;
                }
            }

            i = j;
        }

        return (rankSum - (positives * (positives + 1) / 2.0)) / (positives * (double)negatives);
    }

    public static OutcomeGroup Group(
        PredictionLog.GroupRow g,
        OutcomeTask task,
        double? p95,
        double? auc,
        (long Rows, long Positives)? aucSample)
    {
        var correct = Statistics(g.CorrectN, g.CorrectSum, g.CorrectSum);
        var logLoss = Statistics(g.LogLossN, g.LogLossSum, g.LogLossSquares);
        var squared = Statistics(g.ErrorN, g.SquaredSum, g.FourthSum);
        var absolute = Statistics(g.ErrorN, g.AbsSum, g.SquaredSum);
        return new OutcomeGroup(
            g.Version,
            g.Experiment.Length == 0 ? null : g.Experiment,
            g.Arm.Length == 0 ? null : g.Arm,
            task,
            g.Count,
            g.WithFeedback,
            g.Failed,
            g.Fallbacks,
            g.Count == 0 ? 0 : g.Failed / (double)g.Count,
            g.Count == 0 ? 0 : g.Fallbacks / (double)g.Count,
            p95,
            Mean(correct),
            Mean(logLoss),
            auc,
            Mean(squared) is { } mse ? Math.Sqrt(mse) : null,
            Mean(absolute),
            correct,
            logLoss,
            squared,
            absolute,
            aucSample?.Rows,
            aucSample?.Positives,
            aucSample is { } s ? s.Rows - s.Positives : null);
    }

    public static bool IsPositive(string? outcome) =>
        outcome is not null && (outcome.Equals("true", StringComparison.OrdinalIgnoreCase) || outcome == "1");

    private static LossStatistics? Statistics(long n, double? sum, double? squares) =>
        n == 0 ? null : new LossStatistics(n, sum ?? 0, squares ?? 0);

    private static double? Mean(LossStatistics? statistics) => statistics is { N: > 0 } s ? s.Sum / s.N : null;
}
