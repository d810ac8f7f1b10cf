using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Microsoft.Extensions.DependencyInjection;

/// <summary>
/// The prediction log's cost on the direct predict path (docs/feedback.md): two hosts side by side, one with
/// <c>PredictionLog:Enabled=false</c> and one with the log on at the shipped settings, each serving
/// <c>IModelModule.PredictAsync</c> (cache miss) and <c>POST /models/demo-churn/predict</c> through the in-memory
/// HTTP pipeline. Rounds alternate between the hosts; per side it prints the median time per call over the rounds and
/// the bytes allocated per call (the whole process, so the log's background writer counts), then the ratio on/off.
/// Usage: feedback-log [calls per round=20000] [rounds=5].
/// </summary>
internal static class FeedbackLogBench
{
    public static async Task RunAsync(string[] args)
    {
        var calls = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20_000;
        var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5;
        var off = await StartAsync(enabled: false);
        var on = await StartAsync(enabled: true);
        try
        {
            var inputs = BenchHost.DemoInputs();
            var request = new PredictRequest("demo-churn", inputs, UseCache: false);
            var body = new { inputs, useCache = false };
            foreach (var side in new[] { off, on })
            {
                // Warm-up: tiered JIT, pools, the log's first batches.
                await TimeAsync(Math.Min(calls, 3000), () => side.Models.PredictAsync(request));
                await TimeAsync(Math.Min(calls, 3000), () => PostAsync(side, body));
            }

            var direct = (Off: new List<double>(), On: new List<double>(), OffBytes: 0.0, OnBytes: 0.0);
            var http = (Off: new List<double>(), On: new List<double>(), OffBytes: 0.0, OnBytes: 0.0);
            for (var round = 0; round < rounds; round++)
            {
                var (a, aBytes) = await TimeAsync(calls, () => off.Models.PredictAsync(request));
                var (b, bBytes) = await TimeAsync(calls, () => on.Models.PredictAsync(request));
                direct = (direct.Off.Append(a).ToList(), direct.On.Append(b).ToList(), direct.OffBytes + aBytes, direct.OnBytes + bBytes);
                var (c, cBytes) = await TimeAsync(calls / 4, () => PostAsync(off, body));
                var (d, dBytes) = await TimeAsync(calls / 4, () => PostAsync(on, body));
                http = (http.Off.Append(c).ToList(), http.On.Append(d).ToList(), http.OffBytes + cBytes, http.OnBytes + dBytes);
            }

            Report("IModelModule.PredictAsync", direct.Off, direct.On, direct.OffBytes / rounds, direct.OnBytes / rounds);
            Report("POST /models/{name}/predict (in-memory HTTP)", http.Off, http.On, http.OffBytes / rounds, http.OnBytes / rounds);
            var logged = await on.Factory.Services.GetRequiredService<IDataModule>().CountLoggedPredictionsAsync();
            Console.WriteLine($"rows in the log (log on): {logged} (capped by PredictionLog:MaxRows; the queue may drop under load)");
        }
        finally
        {
            await off.Factory.DisposeAsync();
            await on.Factory.DisposeAsync();
        }
    }

    private static void Report(string path, List<double> off, List<double> on, double offBytes, double onBytes)
    {
        double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{path}: log off {Median(off):F2} us/call, {offBytes:F0} B/call; log on {Median(on):F2} us/call, {onBytes:F0} B/call; "
            + $"time ratio on/off {Median(on) / Median(off):F3}"));
    }

    private static async Task<(double MicrosPerCall, double BytesPerCall)> TimeAsync(int count, Func<Task> action)
    {
        var allocated = GC.GetTotalAllocatedBytes(precise: false);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            await action();
        }

        var micros = watch.Elapsed.TotalMicroseconds / count;
        return (micros, (GC.GetTotalAllocatedBytes(precise: false) - allocated) / (double)count);
    }

    private static async Task PostAsync(Side side, object body) =>
        (await side.Client.PostAsJsonAsync("/api/v1/models/demo-churn/predict", body)).EnsureSuccessStatusCode();

    private static async Task<Side> StartAsync(bool enabled)
    {
        var data = Directory.CreateTempSubdirectory("formanova-bench-feedback-").FullName;
        var (factory, client) = await BenchHost.StartAsync(data, new Dictionary<string, string?>
        {
            ["Model:Bootstrap:Rows"] = "2000",
            ["PredictionLog:Enabled"] = enabled ? "true" : "false",
        });
        return new Side(factory, client, factory.Services.GetRequiredService<IModelModule>());
    }

    private sealed record Side(
        Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> Factory,
        HttpClient Client,
        IModelModule Models);
}
