namespace Formanova.Modules.Model.Training;

/// <summary>
/// A synthetic customer table, generated deterministically from a seed so that tests, benchmarks and the
/// bootstrap model need no downloaded data. Twelve columns: eleven features (numeric with gaps, categorical,
/// boolean, free text) and the label for the chosen task (churned, segment or lifetime value).
/// </summary>
internal static class SampleData
{
    private static readonly string[] Contracts = ["month-to-month", "one-year", "two-year"];
    private static readonly string[] Payments = ["card", "bank-transfer", "electronic-check", "mailed-check"];
    private static readonly string[] Happy = ["great service", "very happy with support", "fast and reliable", "good value"];
    private static readonly string[] Unhappy
        = ["too expensive", "slow support and outages", "thinking of switching", "billing errors again"];
    private static readonly string[] Neutral = ["no comment", "it works", "average experience", ""];

    public static IReadOnlyList<ModelColumn> Columns(ModelTask task) =>
    [
        new("tenure_months", ColumnKind.Numeric),
        new("monthly_charges", ColumnKind.Numeric),
        new("total_charges", ColumnKind.Numeric),
        new("support_calls", ColumnKind.Numeric),
        new("age", ColumnKind.Numeric),
        new("data_usage_gb", ColumnKind.Numeric),
        new("contract", ColumnKind.Categorical),
        new("payment_method", ColumnKind.Categorical),
        new("paperless_billing", ColumnKind.Boolean),
        new("has_partner", ColumnKind.Boolean),
        new("feedback", ColumnKind.Text),
        task switch
        {
            ModelTask.BinaryClassification => new("churned", ColumnKind.Boolean, IsLabel: true),
            ModelTask.MulticlassClassification => new("segment", ColumnKind.Categorical, IsLabel: true),
            _ => new("lifetime_value", ColumnKind.Numeric, IsLabel: true),
        },
    ];

    public static IEnumerable<object?[]> Rows(ModelTask task, int count, int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var tenure = random.Next(0, 73);
            var contract = Contracts[Weighted(random, 0.55, 0.25)];
            var payment = Payments[random.Next(Payments.Length)];
            var monthly = Math.Round(20 + (random.NextDouble() * 100), 2);
            var calls = Math.Min(9, (int)(-Math.Log(1 - random.NextDouble()) * 1.5));
            var paperless = random.NextDouble() < 0.6;
            var partner = random.NextDouble() < 0.45;
            var usage = Math.Round(random.NextDouble() * 50, 1);

            var risk = -0.5 + (contract == "month-to-month" ? 1.8 : contract == "one-year" ? 0 : -1.2)
                - (0.045 * tenure) + (0.02 * (monthly - 70)) + (0.45 * calls)
                + (payment == "electronic-check" ? 0.6 : 0) - (partner ? 0.4 : 0);
            var mood = random.NextDouble();
            var feedback = risk + ((random.NextDouble() - 0.5) * 2) > 0.5
                ? (mood < 0.8 ? Unhappy : Neutral)[random.Next(4)]
                : (mood < 0.7 ? Happy : Neutral)[random.Next(4)];
            risk += Unhappy.Contains(feedback) ? 1.0 : Happy.Contains(feedback) ? -0.6 : 0;

            object? label = task switch
            {
                ModelTask.BinaryClassification => random.NextDouble() < 1 / (1 + Math.Exp(-risk)),
                ModelTask.MulticlassClassification => (monthly + (usage * 0.8) + (random.NextDouble() * 10)) switch
                {
                    < 70 => "basic",
                    < 110 => "plus",
                    _ => "premium",
                },
                _ => Math.Round((monthly * Math.Max(1, tenure) * (contract == "two-year" ? 1.3 : 1)) + (random.NextDouble() * 200), 2),
            };

            yield return
            [
                (double)tenure,
                monthly,
                Math.Round(monthly * tenure, 2),
                (double)calls,
                random.NextDouble() < 0.1 ? null : (double)random.Next(18, 80),
                usage,
                contract,
                payment,
                paperless,
                partner,
                feedback,
                label,
            ];
        }
    }

    public static async IAsyncEnumerable<object?[]> RowsAsync(ModelTask task, int count, int seed)
    {
        foreach (var row in Rows(task, count, seed))
        {
            yield return row;
        }

        await Task.CompletedTask;
    }

    /// <summary>Row <paramref name="row"/> of the sample as a prediction input (the features only, by name).</summary>
    public static Dictionary<string, object?> Input(object?[] row, ModelTask task)
    {
        var columns = Columns(task);
        var input = new Dictionary<string, object?>(StringComparer.Ordinal);
        for (var i = 0; i < columns.Count; i++)
        {
            if (!columns[i].IsLabel)
            {
                input[columns[i].Name] = row[i];
            }
        }

        return input;
    }

    private static int Weighted(Random random, double first, double second)
    {
        var x = random.NextDouble();
        return x < first ? 0 : x < first + second ? 1 : 2;
    }
}
