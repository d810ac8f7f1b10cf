using System.Diagnostics;
using System.Globalization;

/// <summary>
/// What the request log costs: bytes written to standard output per request, and throughput, with
/// <c>Api:RequestLogging</c> on and off. Both hosts run the production log settings (JSON console lines with scopes,
/// Information), side by side, and serve alternating rounds of the same request through the in-memory client, so a
/// burst of load from the shared box lands on both. Standard output is redirected into a byte counter for the run:
/// what it counts is what a container's log collector would receive, the host's other lines included (the "off"
/// host shows that baseline). Usage: request-log [requests per round=20000] [rounds=5] [concurrency=8] [path].
/// </summary>
internal static class RequestLogBench
{
    public static async Task RunAsync(string[] args)
    {
        var requests = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20_000;
        var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5;
        var concurrency = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 8;
        var path = args.Length > 4 ? args[4] : "/api/v1/models/demo-churn";

        var report = Console.Out;
        var counter = new CountingWriter();
        // Before the hosts are built: the console logger keeps the writer it finds at construction.
        Console.SetOut(counter);
        var hosts = new List<(string Name, string Data, IAsyncDisposable Factory, HttpClient Client)>();
        foreach (var (name, enabled) in new[] { ("on", "true"), ("off", "false") })
        {
            var data = Directory.CreateTempSubdirectory($"formanova-bench-log-{name}-").FullName;
            var (factory, client) = await BenchHost.StartAsync(data, new Dictionary<string, string?>
            {
                ["Api:RequestLogging"] = enabled,
                ["Model:Bootstrap:Rows"] = "2000",
            }.Concat(BenchHost.ProductionLogging).ToDictionary());
            hosts.Add((name, data, factory, client));
        }

        // Warm-up: JIT and caches, both hosts, not counted.
        foreach (var host in hosts)
        {
            await RunRoundAsync(host.Client, path, Math.Min(requests, 2000), concurrency);
        }

        var results = hosts.ToDictionary(h => h.Name, _ => new List<(double Rps, double Bytes, double Lines)>());
        for (var round = 0; round < rounds; round++)
        {
            foreach (var host in hosts)
            {
                await counter.SettleAsync();
                var (bytes, lines) = counter.Snapshot();
                var seconds = await RunRoundAsync(host.Client, path, requests, concurrency);
                await counter.SettleAsync();
                var (bytesAfter, linesAfter) = counter.Snapshot();
                results[host.Name].Add(
                    (requests / seconds, (double)(bytesAfter - bytes) / requests, (double)(linesAfter - lines) / requests));
            }
        }

        Console.SetOut(report);
        report.WriteLine($"request log, GET {path}, {requests} requests per round, {concurrency} concurrent callers, in-memory HTTP, " +
            $"median of {rounds} alternating rounds:");
        foreach (var (name, samples) in results)
        {
            report.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  Api:RequestLogging={(name == "on" ? "true " : "false")}: {BenchHost.Median(samples.Select(s => s.Rps)):F0} req/s, " +
                $"{BenchHost.Median(samples.Select(s => s.Bytes)):F1} bytes and {BenchHost.Median(samples.Select(s => s.Lines)):F3} " +
                $"lines of stdout per request"));
        }

        report.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  throughput with the log on / off: " +
            $"{BenchHost.Median(results["on"].Select(s => s.Rps)) / BenchHost.Median(results["off"].Select(s => s.Rps)):F3}"));
        report.WriteLine($"  a request line: {counter.LastLine(l => l.Contains("RequestLogMiddleware", StringComparison.Ordinal))}");

        foreach (var host in hosts)
        {
            host.Client.Dispose();
            await host.Factory.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var host in hosts)
        {
            Directory.Delete(host.Data, recursive: true);
        }
    }

    /// <summary>Sends <paramref name="requests"/> GETs from <paramref name="concurrency"/> callers; returns the seconds taken.</summary>
    private static async Task<double> RunRoundAsync(HttpClient client, string path, int requests, int concurrency)
    {
        var remaining = requests;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Decrement(ref remaining) >= 0)
            {
                using var response = await client.GetAsync(path);
                response.EnsureSuccessStatusCode();
            }
        })));
        return watch.Elapsed.TotalSeconds;
    }
}
