using System.Diagnostics;
using System.Globalization;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Inference;
using Formanova.Modules.Model.Training;
using Microsoft.Extensions.DependencyInjection;

/// <summary>
/// The first request after a switch, with the incoming version loaded before the switch (Model:Preload:Enabled) and
/// without: per round the incoming version is dropped from memory, activated, then predicted once (no cache).
/// </summary>
internal static class SwitchBench
{
    private const ModelTask Task = ModelTask.BinaryClassification;

    public static async Task RunAsync(int rounds, int trainRows)
    {
        Console.WriteLine($"switch: {rounds} rounds, versions trained on {trainRows} rows; milliseconds, median (min-max)");
        foreach (var preload in (bool[])[true, false])
        {
            var data = Directory.CreateTempSubdirectory("formanova-bench-switch-").FullName;
            try
            {
                using var host = await TrainBench.StartHostAsync(
                    data,
                    new() { ["Model:Preload:Enabled"] = preload ? "true" : "false" });
                var models = host.Services.GetRequiredService<IModelModule>();
                var runtime = host.Services.GetRequiredService<ModelRuntime>();
                foreach (var version in (string[])["1.0.0", "1.1.0"])
                {
                    await models.TrainAsync(
                        new TrainModelRequest("bench", version, Task, SampleData.Columns(Task), Seed: 1, Activate: version == "1.0.0"),
                        SampleData.RowsAsync(Task, trainRows, version == "1.0.0" ? 1 : 2));
                }

                var input = SampleData.Rows(Task, 1, 3).First();
                var inputs = SampleData.Columns(Task).Where(c => !c.IsLabel)
                    .Select(c => (c.Name, Value: input[SampleData.Columns(Task).ToList().IndexOf(c)]))
                    .ToDictionary(p => p.Name, p => p.Value);
                var activations = new List<double>();
                var firsts = new List<double>();
                for (var round = 0; round < rounds; round++)
                {
                    var incoming = round % 2 == 0 ? "1.1.0" : "1.0.0";
                    runtime.Unload("bench", incoming);
                    var watch = Stopwatch.StartNew();
                    await models.ActivateAsync("bench", incoming);
                    activations.Add(watch.Elapsed.TotalMilliseconds);
                    watch.Restart();
                    await models.PredictAsync(new PredictRequest("bench", inputs, UseCache: false));
                    firsts.Add(watch.Elapsed.TotalMilliseconds);
                }

                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"preload={(preload ? "on " : "off")} first request {Summary(firsts)}  activation {Summary(activations)}"));
                await host.StopAsync();
            }
            finally
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                Directory.Delete(data, recursive: true);
            }
        }
    }

    private static string Summary(List<double> values)
    {
        var sorted = values.Order().ToList();
        return string.Create(CultureInfo.InvariantCulture, $"{sorted[sorted.Count / 2]:F1} ({sorted[0]:F1}-{sorted[^1]:F1})");
    }
}
