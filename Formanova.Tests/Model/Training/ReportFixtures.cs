using System.Globalization;
using System.Text;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Model.Training;

/// <summary>
/// Small tables shaped like public data nobody prepared for the service, generated from a seed: a daily-weather table
/// (a date, column names with spaces and parentheses, five unbalanced classes of which two look exactly like a
/// commoner one) and a car-mileage table (a numeric label with gaps, a categorical column and a pure-noise column).
/// </summary>
internal static class ReportFixtures
{
    public const string WeatherLabel = "weather";
    public const string MileageLabel = "MPG";

    /// <summary>sun 60 %, rain 25 %, fog 8 %, drizzle 5 %, snow 2 %. Fog is drawn like sun and drizzle like rain.</summary>
    private static readonly (string Class, double Share)[] Weathers =
        [("sun", 0.60), ("rain", 0.25), ("fog", 0.08), ("drizzle", 0.05), ("snow", 0.02)];

    private static readonly string[] Origins = ["usa", "europe", "japan"];

    private static readonly int[] CylinderCounts = [4, 4, 4, 6, 6, 8];

    /// <summary>The weather features and label as model columns (the date is the dataset's, not the model's).</summary>
    public static IReadOnlyList<ModelColumn> WeatherColumns { get; } =
    [
        new("Temp max (C)", ColumnKind.Numeric),
        new("Temp min (C)", ColumnKind.Numeric),
        new("Precipitation (mm)", ColumnKind.Numeric),
        new("Wind (m/s)", ColumnKind.Numeric),
        new(WeatherLabel, ColumnKind.Categorical, IsLabel: true),
    ];

    public static IReadOnlyList<ModelColumn> MileageColumns { get; } =
    [
        new("Horsepower", ColumnKind.Numeric),
        new("Weight (lbs)", ColumnKind.Numeric),
        new("Cylinders", ColumnKind.Categorical),
        new("Origin", ColumnKind.Categorical),
        new("Noise", ColumnKind.Numeric),
        new(MileageLabel, ColumnKind.Numeric, IsLabel: true),
    ];

    /// <summary>Rows in <see cref="WeatherColumns"/> order; the day of each is <c>2020-01-01</c> plus its index.</summary>
    public static List<object?[]> Weather(int count, int seed)
    {
        var random = new Random(seed);
        var rows = new List<object?[]>(count);
        for (var i = 0; i < count; i++)
        {
            var draw = random.NextDouble();
            var weather = Weathers[^1].Class;
            foreach (var (name, share) in Weathers)
            {
                if ((draw -= share) < 0)
                {
                    weather = name;
                    break;
                }
            }

            var (temp, precipitation, wind) = weather switch
            {
                "sun" or "fog" => (Normal(random, 22, 6), random.NextDouble() < 0.9 ? 0 : random.NextDouble(), Normal(random, 3, 1.5)),
                "rain" or "drizzle" => (Normal(random, 14, 5), Exponential(random, 8), Normal(random, 5, 2)),
                _ => (Normal(random, -3, 3), Exponential(random, 5), Normal(random, 4, 2)),
            };
            rows.Add([
                Math.Round(temp, 1), Math.Round(temp - 4 - (random.NextDouble() * 6), 1), Math.Round(precipitation, 1),
                Math.Round(Math.Max(0, wind), 1), weather
            ]);
        }

        return rows;
    }

    /// <summary>Rows in <see cref="MileageColumns"/> order; every <paramref name="nullEvery"/>-th row has no label.</summary>
    public static List<object?[]> Mileage(int count, int seed, int nullEvery)
    {
        var random = new Random(seed);
        var rows = new List<object?[]>(count);
        for (var i = 0; i < count; i++)
        {
            var cylinders = CylinderCounts[random.Next(CylinderCounts.Length)];
            var weight = Math.Round(1500 + (cylinders * 300) + Normal(random, 0, 250));
            var horsepower = Math.Round(40 + (cylinders * 15) + Normal(random, 0, 12));
            var origin = Origins[random.Next(3)];
            var mpg = 58 - (weight / 150) - (horsepower / 30) + (origin == "japan" ? 2 : 0) + Normal(random, 0, 1.5);
            rows.Add([
                horsepower, weight, cylinders.ToString(CultureInfo.InvariantCulture), origin,
                Math.Round(random.NextDouble(), 3), i % nullEvery == nullEvery - 1 ? null : Math.Round(mpg, 1)
            ]);
        }

        return rows;
    }

    /// <summary>
    /// The weather table as a dataset: a leading <c>id</c> (role id), a <c>Date</c> column (datetime) and the columns
    /// of <see cref="WeatherColumns"/>, imported as CSV through the Data module.
    /// </summary>
    public static Task<long> WeatherDatasetAsync(IServiceProvider services, int count, int seed) =>
        ImportAsync(services, "weather", WeatherColumns, Weather(count, seed), withDate: true);

    public static Task<long> MileageDatasetAsync(IServiceProvider services, int count, int seed, int nullEvery) =>
        ImportAsync(services, "mileage", MileageColumns, Mileage(count, seed, nullEvery), withDate: false);

    internal static async Task<long> ImportAsync(
        IServiceProvider services,
        string name,
        IReadOnlyList<ModelColumn> model,
        List<object?[]> rows,
        bool withDate)
    {
        var data = services.GetRequiredService<IDataModule>();
        var columns = new List<ColumnDefinition> { new("id", ColumnType.Numeric, Nullable: false, Role: ColumnRole.Id) };
        if (withDate)
        {
            columns.Add(new("Date", ColumnType.Datetime));
        }

        columns.AddRange(model.Select(c => new ColumnDefinition(
            c.Name,
            c.Kind == ColumnKind.Numeric ? ColumnType.Numeric : ColumnType.Categorical,
            Role: c.IsLabel ? ColumnRole.Label : ColumnRole.Feature)));
        var dataset = await data.CreateDatasetRequestAsync(name, columns);

        var csv = new StringBuilder(string.Join(',', columns.Select(c => Quote(c.Name)))).Append('\n');
        var day = new DateOnly(2020, 1, 1);
        for (var i = 0; i < rows.Count; i++)
        {
            csv.Append(i.ToString(CultureInfo.InvariantCulture));
            if (withDate)
            {
                csv.Append(',').Append(day.AddDays(i).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            }

            foreach (var value in rows[i])
            {
                csv.Append(',').Append(value is double d ? d.ToString("R", CultureInfo.InvariantCulture) : value);
            }

            csv.Append('\n');
        }

        using var content = new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString()));
        var report = await data.ImportRowsAsync(dataset, content, new ImportOptions(ImportFormat.Csv));
        Assert.That(report.RowsAccepted, Is.EqualTo(rows.Count), string.Join("; ", report.Errors.Select(e => e.Message)));
        return dataset;
    }

    private static async Task<long> CreateDatasetRequestAsync(this IDataModule data, string name, List<ColumnDefinition> columns) =>
        (await data.CreateDatasetAsync(new CreateDatasetRequest($"{name}-{Guid.NewGuid():N}", columns))).Id;

    private static string Quote(string name) => name.Contains(',', StringComparison.Ordinal) ? $"\"{name}\"" : name;

    private static double Normal(Random random, double mean, double sd) =>
        mean + (sd * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));

    private static double Exponential(Random random, double mean) => -mean * Math.Log(1 - random.NextDouble());
}
