using Formanova.Modules.Model;

namespace Formanova.Tests.Model;

/// <summary>
/// Rows where members err differently: four independent features a, b, c, d ~ N(0, 1), and a label that needs all four
/// (regression: a + b + c + d plus noise of sd 0.5; binary: true with probability σ(a + b + c + d)). A member trained on
/// a and b alone misses half the signal, one on c and d the other half.
/// </summary>
internal static class EnsembleFixtures
{
    public const string Label = "y";

    public static readonly string[] Features = ["a", "b", "c", "d"];

    public static IReadOnlyList<ModelColumn> Columns(ModelTask task, params string[] features) =>
        [.. features.Select(f => new ModelColumn(f, ColumnKind.Numeric)), LabelColumn(task)];

    public static ModelColumn LabelColumn(ModelTask task) =>
        new(Label, task == ModelTask.Regression ? ColumnKind.Numeric : ColumnKind.Boolean, IsLabel: true);

    /// <summary>Rows of a, b, c, d and the label.</summary>
    public static List<object?[]> Rows(ModelTask task, int count, int seed)
    {
        var random = new Random(seed);
        var rows = new List<object?[]>(count);
        for (var i = 0; i < count; i++)
        {
            var x = Features.Select(_ => Math.Round(Normal(random), 3)).ToArray();
            var sum = x.Sum();
            object label = task == ModelTask.Regression
                ? Math.Round(sum + (0.5 * Normal(random)), 3)
                : random.NextDouble() < 1 / (1 + Math.Exp(-2 * sum));
            rows.Add([.. x.Cast<object?>(), label]);
        }

        return rows;
    }

    /// <summary>The rows with only <paramref name="features"/> and the label, in that order.</summary>
    public static async IAsyncEnumerable<object?[]> Project(List<object?[]> rows, params string[] features)
    {
        var positions = features.Select(f => Array.IndexOf(Features, f)).Append(Features.Length).ToArray();
        foreach (var row in rows)
        {
            yield return [.. positions.Select(p => row[p])];
        }

        await Task.CompletedTask;
    }

    /// <summary>Row <paramref name="index"/>'s features by name, as a prediction input.</summary>
    public static Dictionary<string, object?> Input(List<object?[]> rows, int index) =>
        Features.Select((f, i) => (f, rows[index][i])).ToDictionary(p => p.f, p => p.Item2);

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
