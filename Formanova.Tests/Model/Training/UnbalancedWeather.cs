using Formanova.Modules.Model;

namespace Formanova.Tests.Model.Training;

/// <summary>
/// A daily-weather-shaped table with five unbalanced classes (about 62/24/9/4/1 %): four noisy numeric readings and
/// a season, generated from a seed. An unweighted fit predicts mostly the common classes, which is what a macro
/// metric and class weighting are for.
/// </summary>
internal static class UnbalancedWeather
{
    public static readonly string[] Classes = ["sunny", "cloudy", "rain", "storm", "snow"];

    public static IReadOnlyList<ModelColumn> Columns { get; } =
    [
        new("temperature", ColumnKind.Numeric),
        new("humidity", ColumnKind.Numeric),
        new("wind", ColumnKind.Numeric),
        new("pressure", ColumnKind.Numeric),
        new("season", ColumnKind.Categorical),
        new("weather", ColumnKind.Categorical, IsLabel: true),
    ];

    private static readonly double[] Shares = [0.62, 0.24, 0.09, 0.04, 0.01];
    private static readonly string[] Seasons = ["winter", "spring", "summer", "autumn"];

    public static IEnumerable<object?[]> Rows(int count, int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var pick = random.NextDouble();
            var label = 0;
            for (var share = Shares[0]; pick > share && label < Shares.Length - 1; share += Shares[++label])
            {
            }

            // Each class shifts the readings a little; the noise keeps the classes overlapping.
            var season = label == 4 ? "winter" : Seasons[random.Next(Seasons.Length)];
            yield return
            [
                Math.Round(18 - (4 * label) + (random.NextDouble() * 12) - (season == "winter" ? 8 : 0), 1),
                Math.Round(45 + (9 * label) + (random.NextDouble() * 30), 1),
                Math.Round((label == 3 ? 40 : 8 + (2 * label)) + (random.NextDouble() * 15), 1),
                Math.Round(1020 - (5 * label) + (random.NextDouble() * 14), 1),
                season,
                Classes[label],
            ];
        }
    }

    public static async IAsyncEnumerable<object?[]> RowsAsync(int count, int seed)
    {
        foreach (var row in Rows(count, seed))
        {
            yield return row;
        }

        await Task.CompletedTask;
    }
}
