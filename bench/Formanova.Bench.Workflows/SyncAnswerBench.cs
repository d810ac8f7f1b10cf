using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc.Testing;

/// <summary>
/// The two shapes of the synchronous POST /api/v1/predictions side by side in one process (Workflows:SyncAnswer):
/// <c>Early</c> (update-with-start, answered once post-processing is done, persistence after) against <c>Result</c>
/// (start, then wait for the run's result). One real host per shape, each with its embedded Temporal server; the
/// rounds alternate between them so both see the same machine. Per shape and round: latency of sequential requests
/// (1 caller) and of <c>callers</c> concurrent callers, and process CPU per request over both. Before each shape's
/// measurement its host's runs have all closed, so the persistence the early shape leaves behind is paid inside the
/// window that caused it. Usage: sync-answer [requests per caller count=200] [rounds=3] [callers=32] [warmup=200].
/// </summary>
internal static class SyncAnswerBench
{
    private static readonly string[] Shapes = ["Result", "Early"];

    public static async Task RunAsync(string[] args)
    {
        var requests = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200;
        var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;
        var callers = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 32;
        var warmup = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 200;

        var hosts = new List<(string Shape, WebApplicationFactory<Program> Factory, HttpClient Client, string Data)>();
        foreach (var shape in Shapes)
        {
            var data = Directory.CreateTempSubdirectory($"formanova-bench-sync-{shape.ToLowerInvariant()}-").FullName;
            var (factory, client) = await BenchHost.StartAsync(data, new Dictionary<string, string?>
            {
                ["Model:Bootstrap:Rows"] = "2000",
                ["Workflows:SyncAnswer"] = shape,
                ["Workflows:SyncTimeoutSeconds"] = "60",
            });
            hosts.Add((shape, factory, client, data));
        }

        var body = new { model = "demo-churn", inputs = BenchHost.DemoInputs(), @params = new { useCache = false } };
        foreach (var (_, _, client, _) in hosts)
        {
            await CallersAsync(client, body, warmup, Math.Min(callers, 8));
            await SettleAsync(client);
        }

        var results = Shapes.ToDictionary(
            s => s, _ => new List<(double P50One, double P99One, double P50Many, double P99Many, double Cpu)>());
        for (var round = 0; round < rounds; round++)
        {
            foreach (var (shape, _, client, _) in hosts)
            {
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var one = await CallersAsync(client, body, requests, 1);
                var many = await CallersAsync(client, body, requests, callers);
                await SettleAsync(client);
                var perRequest = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / (2.0 * requests);
                results[shape].Add(
                    (Percentile(one, 0.5), Percentile(one, 0.99), Percentile(many, 0.5), Percentile(many, 0.99), perRequest));
            }
        }

        Console.WriteLine(
            $"sync-answer, POST /api/v1/predictions through the real host, {requests} requests per caller count, median of {rounds} "
            + "rounds (alternating shapes):");
        foreach (var (shape, samples) in results)
        {
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"  {shape,-6}: 1 caller p50 {BenchHost.Median(samples.Select(s => s.P50One)):F2} ms, p99 "
                + $"{BenchHost.Median(samples.Select(s => s.P99One)):F2} ms; {callers} callers p50 "
                + $"{BenchHost.Median(samples.Select(s => s.P50Many)):F2} ms, "
                + $"p99 {BenchHost.Median(samples.Select(s => s.P99Many)):F2} ms; "
                + $"CPU {BenchHost.Median(samples.Select(s => s.Cpu)):F2} ms per request (the process, both hosts)"));
        }

        foreach (var (_, factory, client, data) in hosts)
        {
            client.Dispose();
            await factory.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>
    /// <paramref name="count"/> predictions over <paramref name="callers"/> concurrent callers; each one's latency in ms.
    /// </summary>
    private static async Task<List<double>> CallersAsync(HttpClient client, object body, int count, int callers)
    {
        var times = new List<double>(count);
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, callers).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= count)
            {
                var watch = Stopwatch.StartNew();
                using var response = await client.PostAsJsonAsync("/api/v1/predictions", body);
                var elapsed = watch.Elapsed.TotalMilliseconds;
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    throw new InvalidOperationException(
                        $"The prediction answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                }

                lock (times)
                {
                    times.Add(elapsed);
                }
            }
        }));
        times.Sort();
        return times;
    }

    /// <summary>Waits until the host has no running processing run: the early shape's persistence is done.</summary>
    private static async Task SettleAsync(HttpClient client)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while ((await client.GetFromJsonAsync<JsonObject>("/api/v1/jobs?status=running&pageSize=1"))?["items"]?.AsArray().Count > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Runs were still open two minutes after the last answer.");
            }

            await Task.Delay(20);
        }
    }

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
}
