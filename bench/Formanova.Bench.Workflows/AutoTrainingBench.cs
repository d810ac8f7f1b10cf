using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Microsoft.Extensions.DependencyInjection;

/// <summary>
/// The auto-training case of docs/benchmarks.md (Workflows): one <c>trainer: "auto"</c> run through
/// POST /api/v1/training-runs on the real host (candidates as parallel activities, Workflows:Training:AutoParallelism),
/// against the same plan's candidates evaluated one by one in the same process through IModelModule, on the same rows
/// and with every core each. The auto run's time also holds its prepare step and the winner's final fit; both are
/// printed. Usage: auto [rows=20000] [parallelism=2].
/// </summary>
internal static class AutoTrainingBench
{
    private static readonly IReadOnlyList<ModelColumn> Columns =
    [
        new("tenure", ColumnKind.Numeric), new("charges", ColumnKind.Numeric), new("calls", ColumnKind.Numeric),
        new("age", ColumnKind.Numeric), new("usage", ColumnKind.Numeric), new("contract", ColumnKind.Categorical),
        new("churned", ColumnKind.Boolean, IsLabel: true),
    ];

    public static async Task RunAsync(string[] args)
    {
        var rows = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20_000;
        var parallelism = args.Length > 2 ? args[2] : "2";
        var directory = Directory.CreateTempSubdirectory("formanova-bench-auto-").FullName;
        var (factory, client) = await BenchHost.StartAsync(directory, new Dictionary<string, string?>
        {
            ["Model:Bootstrap:Rows"] = "500",
            ["Workflows:Training:AutoParallelism"] = parallelism,
        });
        try
        {
            var data = factory.Services.GetRequiredService<IDataModule>();
            var models = factory.Services.GetRequiredService<IModelModule>();
            var dataset = await ImportAsync(data, rows);

            var watch = Stopwatch.StartNew();
            var start = await client.PostAsJsonAsync(
                "/api/v1/training-runs",
                new { model = "bench-auto", version = "1.0.0", task = "binaryClassification", datasetId = dataset, trainer = "auto" });
            start.EnsureSuccessStatusCode();
            JsonObject run;
            do
            {
                await Task.Delay(200);
                run = (await client.GetFromJsonAsync<JsonObject>(start.Headers.Location))!;
            }
            while ((string?)run["status"] is not ("completed" or "failed" or "cancelled"));

            var auto = watch.Elapsed.TotalSeconds;
            if ((string?)run["status"] != "completed")
            {
                throw new InvalidOperationException(run.ToJsonString());
            }

            var leaderboard = run["result"]!["auto"]!["leaderboard"]!.AsArray();
            var candidateSeconds = leaderboard.Sum(c => (double)c!["seconds"]!);

            var plan = models.PlanAutoTraining(ModelTask.BinaryClassification);
            double sequential = 0;
            foreach (var candidate in plan.Candidates)
            {
                var one = Stopwatch.StartNew();
                await models.EvaluateCandidateAsync(
                    new EvaluateCandidateRequest(ModelTask.BinaryClassification, Columns, candidate, plan.Metric.Name),
                    Rows(rows).ToAsyncEnumerable());
                sequential += one.Elapsed.TotalSeconds;
                Print($"  one by one: {candidate.Trainer,-24} {one.Elapsed.TotalSeconds,8:F2} s");
            }

            Print($"auto training, {rows} rows, parallelism {parallelism}, {Environment.ProcessorCount} cores");
            Print($"  auto run (prepare + {leaderboard.Count} candidates + final fit): {auto:F2} s");
            Print($"  candidates' own seconds inside the run (summed): {candidateSeconds:F2} s");
            Print($"  the same candidates one by one (summed): {sequential:F2} s");
            Print($"  ratio auto run / one by one: {auto / sequential:F2} (below 1: parallel wins)");
        }
        finally
        {
            await factory.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static void Print(FormattableString line) => Console.WriteLine(line.ToString(CultureInfo.InvariantCulture));

    /// <summary>Churn-like rows from a seed: five numeric readings, a contract, and a label that is logistic in them.</summary>
    private static IEnumerable<object?[]> Rows(int count)
    {
        var random = new Random(11);
        string[] contracts = ["month-to-month", "one-year", "two-year"];
        for (var i = 0; i < count; i++)
        {
            double tenure = random.Next(72), charges = 20 + random.Next(100), calls = random.Next(9), age = 18 + random.Next(60);
            var usage = Math.Round(random.NextDouble() * 50, 1);
            var contract = random.Next(3);
            var risk = 1.5 - (0.05 * tenure) + (0.02 * (charges - 70)) + (0.4 * calls) - contract + ((random.NextDouble() - 0.5) * 2);
            yield return [tenure, charges, calls, age, usage, contracts[contract], risk > 0];
        }
    }

    private static async Task<long> ImportAsync(IDataModule data, int rows)
    {
        var columns = Columns.Select(c => new ColumnDefinition(
            c.Name,
            c.Kind switch
            {
                ColumnKind.Numeric => ColumnType.Numeric,
                ColumnKind.Boolean => ColumnType.Boolean,
                _ => ColumnType.Categorical,
            },
            Role: c.IsLabel ? ColumnRole.Label : ColumnRole.Feature)).ToList();
        var dataset = await data.CreateDatasetAsync(new CreateDatasetRequest($"bench-auto-{rows}", columns));
        var csv = new StringBuilder(rows * 40).Append(string.Join(',', Columns.Select(c => c.Name))).Append('\n');
        foreach (var row in Rows(rows))
        {
            csv.AppendJoin(',', row.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture)!.ToLowerInvariant())).Append('\n');
        }

        await using var stream = new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString()));
        var report = await data.ImportRowsAsync(dataset.Id, stream, new ImportOptions(ImportFormat.Csv));
        return report.RowsAccepted == rows
            ? dataset.Id
            : throw new InvalidOperationException($"Import accepted {report.RowsAccepted} of {rows} rows.");
    }
}
