using System.Diagnostics;
using System.Globalization;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.ML;

/// <summary>
/// FastTree training, module vs raw ML.NET, each side in a fresh child process so that each reports its own peak
/// memory. Both get the same generated rows (the module as the <c>object?[]</c> rows its interface streams, raw
/// ML.NET as a hand-written typed class), both are warmed up on 5,000 rows first, and the order alternates per run.
///   train &lt;rows&gt; [runs]
/// </summary>
internal static class TrainBench
{
    private const ModelTask Task = ModelTask.BinaryClassification;

    public static async System.Threading.Tasks.Task RunAsync(int rows, int runs)
    {
        Console.WriteLine($"# Model training benchmark {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, " +
            $".NET {Environment.Version}, rows={rows}, runs={runs}");
        var results = new Dictionary<string, List<string[]>> { ["raw"] = [], ["module"] = [] };
        for (var run = 0; run < runs; run++)
        {
            foreach (var side in run % 2 == 0 ? new[] { "raw", "module" } : ["module", "raw"])
            {
                var line = await ChildAsync(side, rows);
                Console.WriteLine($"run {run + 1} {line}");
                results[side].Add(line.Split(' '));
            }
        }

        double Median(string side, int field)
        {
            var values = results[side].Select(r => double.Parse(r[field], CultureInfo.InvariantCulture)).Order().ToList();
            return values[values.Count / 2];
        }

        var (raw, module) = (Median("raw", 1), Median("module", 1));
        Console.WriteLine($"median of {runs}: raw {raw:F2} s, module {module:F2} s, ratio {module / raw:F2}; peak RSS (VmHWM) raw " +
            $"{Median("raw", 2):F0} MiB, module {Median("module", 2):F0} MiB; RSS before training raw {Median("raw", 3):F0} MiB, module " +
            $"{Median("module", 3):F0} MiB");
    }

    private static async Task<string> ChildAsync(string side, int rows)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(start.FileName) == "dotnet")
        {
            start.ArgumentList.Add(typeof(TrainBench).Assembly.Location);
        }

        foreach (var arg in new[] { "train-child", side, rows.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0
            ? output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.StartsWith(side, StringComparison.Ordinal))
            : throw new InvalidOperationException($"{side} child failed ({process.ExitCode}): {output}");
    }

    /// <summary>One side, one fit. Prints "side seconds peakMiB beforeMiB allocatedMiB breakdown".</summary>
    public static async System.Threading.Tasks.Task ChildAsync(string side, int rows, string data)
    {
        var sample = SampleData.Rows(Task, rows, 1).ToList();
        string line;
        if (side == "raw")
        {
            var typed = sample.Select(Raw.From).ToList();
            sample = null;
            Train(typed.Take(5000).ToList(), out _);
            Settle();
            var before = Rss("VmRSS");
            var allocated = GC.GetTotalAllocatedBytes();
            var watch = Stopwatch.StartNew();
            Train(typed, out var stages);
            var seconds = watch.Elapsed.TotalSeconds;
            line = Line(side, seconds, before, allocated, stages);
        }
        else
        {
            using var host = await StartHostAsync(data, []);
            var models = host.Services.GetRequiredService<IModelModule>();
            await models.TrainAsync(
                new TrainModelRequest("warmup", "1.0.0", Task, SampleData.Columns(Task), Seed: 1),
                ToAsync(sample.Take(5000)));
            Settle();
            var before = Rss("VmRSS");
            var allocated = GC.GetTotalAllocatedBytes();
            var stages = new StageClock();
            var watch = Stopwatch.StartNew();
            var result = await models.TrainAsync(
                new TrainModelRequest("bench", "1.0.0", Task, SampleData.Columns(Task), Seed: 1),
                ToAsync(sample),
                progress: stages);
            var seconds = watch.Elapsed.TotalSeconds;
            stages.Report(new TrainingProgress("registered", result.TrainRows, 1));
            line = Line(side, seconds, before, allocated, stages.Breakdown());
            await host.StopAsync();
        }

        Console.WriteLine(line);
    }

    /// <summary>The module's real registrations (no bootstrap model, warnings only) on a temporary data directory.</summary>
    public static async Task<IHost> StartHostAsync(string data, Dictionary<string, string?> settings)
    {
        settings["Formanova:DataDirectory"] = data;
        settings["Model:Bootstrap:Enabled"] = "false";
        settings["Logging:LogLevel:Default"] = "Warning";
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddFormanovaInfrastructure(builder.Configuration).AddModelModule(builder.Configuration);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static string Line(string side, double seconds, double before, long allocatedBefore, string stages) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"{side} {seconds:F2} {Rss("VmHWM"):F0} {before:F0} {(GC.GetTotalAllocatedBytes() - allocatedBefore) / 1048576.0:F0} {stages}");

    private static void Train(List<Raw.Row> rows, out string stages)
    {
        var ml = new MLContext(1);
        var watch = Stopwatch.StartNew();
        var view = ml.Data.LoadFromEnumerable(rows);
        var split = ml.Data.TrainTestSplit(view, 0.2, seed: 1);
        var load = watch.Elapsed.TotalSeconds;
        var model = Raw.Pipeline(ml).Fit(split.TrainSet);
        var fit = watch.Elapsed.TotalSeconds;
        ml.BinaryClassification.Evaluate(model.Transform(split.TestSet));
        var evaluate = watch.Elapsed.TotalSeconds;
        stages = string.Create(CultureInfo.InvariantCulture, $"view+split={load:F2}s fit={fit - load:F2}s evaluate={evaluate - fit:F2}s");
    }

    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary>Resident set (current or peak) from /proc/self/status, in MiB.</summary>
    private static double Rss(string field)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return double.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
    }

    private static async IAsyncEnumerable<object?[]> ToAsync(IEnumerable<object?[]> rows)
    {
        foreach (var row in rows)
        {
            yield return row;
        }

        await System.Threading.Tasks.Task.CompletedTask;
    }

    /// <summary>Records when the module enters each stage it reports (synchronously, unlike Progress&lt;T&gt;).</summary>
    private sealed class StageClock : IProgress<TrainingProgress>
    {
        private readonly Stopwatch _watch = Stopwatch.StartNew();
        private readonly List<(string Stage, double At)> _stages = [];

        public void Report(TrainingProgress value)
        {
            if (_stages.Count == 0 || _stages[^1].Stage != value.Stage)
            {
                _stages.Add((value.Stage, _watch.Elapsed.TotalSeconds));
            }
        }

        public string Breakdown() => string.Join(
            ' ',
            _stages.Zip(_stages.Skip(1), (a, b) => string.Create(CultureInfo.InvariantCulture, $"{a.Stage}={b.At - a.At:F2}s")));
    }
}
