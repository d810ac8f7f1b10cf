using System.Diagnostics;
using System.Globalization;
using Formanova.DevServer;
using Temporalio.Activities;
using Temporalio.Client;
using Temporalio.Worker;
using Temporalio.Workflows;

namespace Formanova.Bench.DevServer;

/// <summary>
/// Throughput of one-activity workflows with a fixed number of concurrent starts, and median start-to-result
/// latency one workflow at a time, against the embedded server with the SDK worker in the same process.
/// usage: Formanova.Bench.DevServer [--workflows 2000] [--concurrency 64] [--latency-samples 200] [--storage memory|sqlite] [--address host:port]
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var workflows = 2000;
        var concurrency = 64;
        var samples = 200;
        var storages = new List<string> { "memory", "sqlite" };
        string? external = null;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--workflows": workflows = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--concurrency": concurrency = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--latency-samples": samples = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--storage": storages = [args[i + 1]]; break;
                // Against a separately started server, so its CPU use can be told apart from the SDK's.
                case "--address": external = args[i + 1]; storages = ["external"]; break;
                default:
                    await Console.Error.WriteLineAsync($"unknown option {args[i]}");
                    return 2;
            }
        }
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}");
        foreach (var storage in storages)
        {
            await RunAsync(storage, external, workflows, concurrency, samples);
        }
        return 0;
    }

    private static async Task RunAsync(string storage, string? external, int workflows, int concurrency, int samples)
    {
        var directory = Path.Combine(Path.GetTempPath(), "devserver-bench-" + Guid.NewGuid().ToString("N"));
        var path = storage == "sqlite" ? Path.Combine(directory, "bench.db") : ":memory:";
        await using var host = new DevServerHost();
        var address = external ?? await host.StartAsync(new DevServerOptions { Port = 0, StoragePath = path });
        var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address));
        var queue = "bench-" + Guid.NewGuid().ToString("N");
        using var worker = new TemporalWorker(client, new TemporalWorkerOptions(queue)
        {
            MaxConcurrentWorkflowTasks = 200,
            MaxConcurrentActivities = 200,
            MaxConcurrentWorkflowTaskPolls = 8,
            MaxConcurrentActivityTaskPolls = 8,
        }.AddWorkflow<BenchWorkflow>().AddActivity(BenchActivities.Echo));
        await worker.ExecuteAsync(async () =>
        {
            // Warm-up: JIT, connections and the worker's caches.
            await Task.WhenAll(Enumerable.Range(0, 100).Select(i => ExecuteAsync(client, queue, i)));

            var next = 0;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
            {
                while (Interlocked.Increment(ref next) <= workflows)
                {
                    await ExecuteAsync(client, queue, next);
                }
            }));
            clock.Stop();
            var throughput = workflows / clock.Elapsed.TotalSeconds;

            var latencies = new List<double>();
            for (var i = 0; i < samples; i++)
            {
                var one = Stopwatch.StartNew();
                await ExecuteAsync(client, queue, i);
                latencies.Add(one.Elapsed.TotalMilliseconds);
            }
            latencies.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{storage}: {workflows} workflows, {concurrency} concurrent: {throughput:F0} wf/s; latency at 1 in flight: median {latencies[latencies.Count / 2]:F1} ms, p95 {latencies[(int)(latencies.Count * 0.95)]:F1} ms"));
        });
        await host.StopAsync();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Memory runs never create it.
        }
    }

    private static Task<string> ExecuteAsync(TemporalClient client, string queue, int i) =>
        client.ExecuteWorkflowAsync((BenchWorkflow wf) => wf.RunAsync(i), new($"bench-{Guid.NewGuid():N}", queue));
}

public static class BenchActivities
{
    [Activity]
    public static string Echo(int value) => value.ToString(CultureInfo.InvariantCulture);
}

[Workflow]
public class BenchWorkflow
{
    [WorkflowRun]
#pragma warning disable CA1822 // The SDK requires [WorkflowRun] methods to be instance members.
    public async Task<string> RunAsync(int value) =>
#pragma warning restore CA1822
        await Workflow.ExecuteActivityAsync(() => BenchActivities.Echo(value), new() { StartToCloseTimeout = TimeSpan.FromSeconds(30) });
}
