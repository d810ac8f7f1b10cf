using System.Globalization;
using System.Text;
using Formanova.Modules.Data;

namespace Formanova.Tests.Support.Fixtures;

/// <summary>
/// A small daily-weather table shaped like the public ones: a date-time column, a precipitation column stored as text
/// (so training casts it), wind with gaps (filled), a station, a free-text note the dataset marks ignored, and an
/// unbalanced five-class label (about 60 % sun, then rain, drizzle, fog and a few percent snow). Seeded, so every run
/// builds the same rows.
/// </summary>
internal static class WeatherTable
{
    public const string Label = "weather";

    public static IReadOnlyList<ColumnDefinition> Columns { get; } =
    [
        new("date", ColumnType.Datetime),
        new("temp_max", ColumnType.Numeric),
        new("temp_min", ColumnType.Numeric),
        new("precip", ColumnType.Text),
        new("wind", ColumnType.Numeric),
        new("station", ColumnType.Categorical),
        new("note", ColumnType.Text, Role: ColumnRole.Ignore),
        new(Label, ColumnType.Categorical, Nullable: false, Role: ColumnRole.Label),
    ];

    /// <summary>The raw rows as a client would send them: the date and precipitation as strings, missing wind as null.</summary>
    public static List<Dictionary<string, object?>> Rows(int count, int seed = 11)
    {
        var random = new Random(seed);
        var start = new DateTimeOffset(2023, 1, 1, 6, 0, 0, TimeSpan.Zero);
        var rows = new List<Dictionary<string, object?>>(count);
        for (var i = 0; i < count; i++)
        {
            var date = start.AddHours(i * 22);
            var season = Math.Sin((date.DayOfYear - 100) / 365.0 * 2 * Math.PI);
            var tempMax = Math.Round(14 + (12 * season) + (random.NextDouble() * 6) - 3, 1);
            var tempMin = Math.Round(tempMax - 4 - (random.NextDouble() * 6), 1);
            var precip = random.NextDouble() < 0.6 ? 0 : Math.Round(-2.5 * Math.Log(1 - random.NextDouble()), 1);
            double? wind = random.NextDouble() < 0.1 ? null : Math.Round(random.NextDouble() * 8, 1);
            var weather = (tempMax, precip, wind) switch
            {
                ( < 4, > 1, _) => "snow",
                (_, > 3, _) => "rain",
                (_, > 0.6, _) => "drizzle",
                (_, _, < 1.2) => "fog",
                _ => "sun",
            };
            rows.Add(new Dictionary<string, object?>
            {
                ["date"] = date.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                ["temp_max"] = tempMax,
                ["temp_min"] = tempMin,
                ["precip"] = precip.ToString("0.0", CultureInfo.InvariantCulture),
                ["wind"] = wind,
                ["station"] = i % 3 == 0 ? "north" : "coast",
                ["note"] = $"obs {i}",
                [Label] = weather,
            });
        }

        return rows;
    }

    public static string Csv(IEnumerable<Dictionary<string, object?>> rows)
    {
        var csv = new StringBuilder(string.Join(',', Columns.Select(c => c.Name))).Append('\n');
        foreach (var row in rows)
        {
            csv.AppendJoin(',', Columns.Select(c => Convert.ToString(row[c.Name], CultureInfo.InvariantCulture))).Append('\n');
        }

        return csv.ToString();
    }
}
