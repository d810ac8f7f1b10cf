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
/// usage: Formanova.Bench.DevServer [--workflows 3000] [--rounds 3] [--warmup 5000] [--concurrency 64] [--latency-samples 200] [--storage
/// memory|sqlite] [--address host:port] [--shape one-activity|processing|processing-one-task|processing-inline]
/// --shape processing runs the synchronous prediction's step shape (ProcessingWorkflow: six local activities and one
/// activity, two workflow tasks) with steps that do no work: the floor the SDK and the server set for one prediction.
/// Memory mode: [--retention-workflows 100000] [--retention-seconds 10] runs that many workflows with a short
/// namespace retention and reports the heap and working set after a forced GC, before and after the sweep.
/// Schedule mode: --schedule-firings 1000 [--schedules 20] measures schedule firing lateness (ScheduleBench).
/// Update mode: --mode update [--updates 2000] [--warmup 5000] measures the round trip of ExecuteUpdateAsync against a
/// running workflow (UpdateWorkflowExecution, the task that carries it, the accepted and completed events), one in flight.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var workflows = 3000;
        var concurrency = 64;
        var samples = 200;
        var warmup = 5000;
        var rounds = 3;
        var storages = new List<string> { "memory", "sqlite" };
        string? external = null;
        var retentionWorkflows = 0;
        var retention = TimeSpan.FromSeconds(10);
        var scheduleFirings = 0;
        var schedules = 20;
        var mode = "workflows";
        var updates = 2000;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--workflows":
                    workflows = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--concurrency":
                    concurrency = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--latency-samples":
                    samples = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--warmup":
                    warmup = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--rounds":
                    rounds = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--storage":
                    storages = [args[i + 1]];
                    break;
                case "--shape":
                    _shape = args[i + 1];
                    break;
                case "--retention-workflows":
                    retentionWorkflows = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--mode":
                    mode = args[i + 1];
                    break;
                case "--updates":
                    updates = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--retention-seconds":
                    retention = TimeSpan.FromSeconds(double.Parse(args[i + 1], CultureInfo.InvariantCulture));
                    break;
                case "--schedule-firings":
                    scheduleFirings = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--schedules":
                    schedules = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                // Against a separately started server, so its CPU use can be told apart from the SDK's.
                case "--address":
                    external = args[i + 1];
                    storages = ["external"];
                    break;
                default:
                    await Console.Error.WriteLineAsync($"unknown option {args[i]}");
                    return 2;
            }
        }

        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}");
        foreach (var storage in storages)
        {
            if (scheduleFirings > 0)
            {
                await ScheduleBench.RunAsync(storage, scheduleFirings, schedules);
            }
            else if (mode == "update")
            {
                await UpdateBench.RunAsync(storage, external, updates, warmup, Compression());
            }
            else if (retentionWorkflows > 0)
            {
                await RunRetentionAsync(storage, retentionWorkflows, concurrency, retention);
            }
            else
            {
                await RunAsync(storage, external, workflows, concurrency, samples, warmup, rounds);
            }
        }

        return 0;
    }

    /// <summary>
    /// Memory after many completed workflows: what the server keeps must be bounded by the retention window, so
    /// the heap after the sweep returns to where it was before the run.
    /// </summary>
    private static async Task RunRetentionAsync(string storage, int workflows, int concurrency, TimeSpan retention)
    {
        var directory = Path.Combine(Path.GetTempPath(), "devserver-bench-" + Guid.NewGuid().ToString("N"));
        var path = storage == "sqlite" ? Path.Combine(directory, "bench.db") : ":memory:";
        await using var host = new DevServerHost();
        var address = await host.StartAsync(new DevServerOptions { Port = 0, StoragePath = path, DefaultNamespaceRetention = retention });
        var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address) { GrpcCompression = Compression() });
        var queue = "bench-" + Guid.NewGuid().ToString("N");
        using var worker = new TemporalWorker(client, WorkerOptions(queue));
        await worker.ExecuteAsync(async () =>
        {
            await Task.WhenAll(Enumerable.Range(0, 100).Select(i => ExecuteAsync(client, queue, i)));
            await WaitForSweepAsync(client, retention);
            var before = Measure();
            Console.WriteLine($"{storage}: before the run: {before}");

            var next = 0;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) <= workflows)
                {
                    await ExecuteAsync(client, queue, i);
                    if (i % 10_000 == 0)
                    {
                        Console.WriteLine(
                            string.Create(CultureInfo.InvariantCulture, $"  {i} workflows, {i / clock.Elapsed.TotalSeconds:F0} wf/s"));
                    }
                }
            }));
            var retained = (await client.CountWorkflowsAsync("")).Count;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{storage}: {workflows} workflows in {clock.Elapsed.TotalSeconds:F0} s, retention {retention.TotalSeconds} s; right " +
                $"after the last one ({retained} closed runs retained): {Measure()}"));
            await WaitForSweepAsync(client, retention);
            Console.WriteLine($"{storage}: after the retention sweep (0 runs retained): {Measure()}");
        });
        await host.StopAsync();
        DeleteDirectory(directory);
    }

    private static async Task WaitForSweepAsync(TemporalClient client, TimeSpan retention)
    {
        var deadline = DateTime.UtcNow + retention + TimeSpan.FromMinutes(2);
        while ((await client.CountWorkflowsAsync("")).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
        }

        // Deadlines armed while the runs were alive (activity start-to-close, 30 s here) still reference them until they fire.
        await Task.Delay(TimeSpan.FromSeconds(35));
    }

    private static string Measure()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        using var process = Process.GetCurrentProcess();
        return string.Create(CultureInfo.InvariantCulture,
            $"managed heap {GC.GetTotalMemory(forceFullCollection: true) / 1048576.0:F1} MiB, working set " +
            $"{process.WorkingSet64 / 1048576.0:F0} MiB");
    }

    // Loopback traffic gains nothing from gzip; FORMANOVA_BENCH_GZIP=1 measures the SDK default for comparison.
    private static GrpcCompression Compression() =>
        Environment.GetEnvironmentVariable("FORMANOVA_BENCH_GZIP") == "1" ? new GrpcCompression.Gzip() : new GrpcCompression.None();

    private static TemporalWorkerOptions WorkerOptions(string queue) => new TemporalWorkerOptions(queue)
    {
        MaxConcurrentWorkflowTasks = 200,
        MaxConcurrentActivities = 200,
        MaxConcurrentWorkflowTaskPolls = 8,
        MaxConcurrentActivityTaskPolls = 8,
    }.AddWorkflow<BenchWorkflow>().AddWorkflow<ProcessingShapeWorkflow>().AddActivity(BenchActivities.Echo);

    private static void DeleteDirectory(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Memory runs never create it.
        }
    }

    private static async Task RunAsync(
        string storage,
        string? external,
        int workflows,
        int concurrency,
        int samples,
        int warmup,
        int rounds)
    {
        var directory = Path.Combine(Path.GetTempPath(), "devserver-bench-" + Guid.NewGuid().ToString("N"));
        var path = storage == "sqlite" ? Path.Combine(directory, "bench.db") : ":memory:";
        await using var host = new DevServerHost();
        var address = external ?? await host.StartAsync(new DevServerOptions { Port = 0, StoragePath = path });
        var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address) { GrpcCompression = Compression() });
        var queue = "bench-" + Guid.NewGuid().ToString("N");
        using var worker = new TemporalWorker(client, WorkerOptions(queue));
        await worker.ExecuteAsync(async () =>
        {
            // Warm-up: connections, the worker's caches and tiered JIT, which keeps recompiling hot methods for the
            // first several thousand workflows; a short warm-up measures start-up cost, not the steady state.
            await RunConcurrentAsync(client, queue, warmup, concurrency);

            var rates = new List<double>();
            var cpus = new List<double>();
            for (var round = 0; round < rounds; round++)
            {
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                await RunConcurrentAsync(client, queue, workflows, concurrency);
                rates.Add(workflows / clock.Elapsed.TotalSeconds);
                cpus.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / workflows);
            }

            var throughput = rates.Order().ElementAt(rates.Count / 2);
            var cpuPerWorkflow = cpus.Order().ElementAt(cpus.Count / 2);

            var latencies = new List<double>();
            var serialCpu = Process.GetCurrentProcess().TotalProcessorTime;
            for (var i = 0; i < samples; i++)
            {
                var one = Stopwatch.StartNew();
                await ExecuteAsync(client, queue, i);
                latencies.Add(one.Elapsed.TotalMilliseconds);
            }

            var cpuPerSerial = (Process.GetCurrentProcess().TotalProcessorTime - serialCpu).TotalMilliseconds / Math.Max(samples, 1);
            latencies.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{storage}, shape {_shape}: {workflows} workflows, {concurrency} concurrent, after {warmup} warm-up: {throughput:F0} " +
                $"wf/s (median of {rounds}: {string.Join(" / ", rates.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))}), " +
                $"process CPU {cpuPerWorkflow:F2} ms per workflow; latency at 1 in flight: median {latencies[latencies.Count / 2]:F1} " +
                $"ms, p95 {latencies[(int)(latencies.Count * 0.95)]:F1} ms, process CPU {cpuPerSerial:F2} ms per workflow"));
            // One line for scripts (bench/scripts/shipped.sh): the same figures, space-separated.
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"floor: p50_ms {latencies[latencies.Count / 2]:F2} cpu1_ms {cpuPerSerial:F2} " +
                $"rate {throughput:F1} cpu_ms {cpuPerWorkflow:F2}"));
        });
        await host.StopAsync();
        DeleteDirectory(directory);
    }

    private static Task RunConcurrentAsync(TemporalClient client, string queue, int workflows, int concurrency)
    {
        var next = 0;
        return Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) <= workflows)
            {
                await ExecuteAsync(client, queue, i);
            }
        }));
    }

    // Eager start hands the first workflow task back in the start response to this process's worker (one poll fewer).
    private static readonly bool Eager = Environment.GetEnvironmentVariable("FORMANOVA_BENCH_EAGER") != "0";

    private static string _shape = "one-activity";

    private static Task<string> ExecuteAsync(TemporalClient client, string queue, int i) => _shape == "one-activity"
        ? client.ExecuteWorkflowAsync(
            (BenchWorkflow wf) => wf.RunAsync(i),
            new($"bench-{Guid.NewGuid():N}", queue) { RequestEagerStart = Eager })
        : client.ExecuteWorkflowAsync(
            (ProcessingShapeWorkflow wf) => wf.RunAsync(new ShapeInput(i, _shape)),
            new($"bench-{Guid.NewGuid():N}", queue) { RequestEagerStart = Eager });
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

public sealed record ShapeInput(int Value, string Shape);

/// <summary>
/// The synchronous prediction's step shape without its work: WORKFLOW_STARTED beside validate, prepare, inference
/// (a regular activity), aggregate, post-process, and persist with the closing events; every step a no-op echo.
/// processing-one-task runs inference as a local activity too (one workflow task); processing-inline runs aggregate
/// and post-process as workflow code. Neither variant is what the service runs: they show what each step costs.
/// </summary>
[Workflow]
public class ProcessingShapeWorkflow
{
    private static readonly LocalActivityOptions Local = new() { StartToCloseTimeout = TimeSpan.FromSeconds(30) };
    private static readonly ActivityOptions Remote = new() { StartToCloseTimeout = TimeSpan.FromSeconds(60) };

    [WorkflowRun]
#pragma warning disable CA1822 // The SDK requires [WorkflowRun] methods to be instance members.
    public async Task<string> RunAsync(ShapeInput input)
#pragma warning restore CA1822
    {
        var v = input.Value;
        var started = Workflow.ExecuteLocalActivityAsync(() => BenchActivities.Echo(v), Local);
        var validated = Workflow.ExecuteLocalActivityAsync(() => BenchActivities.Echo(v + 1), Local);
        await Workflow.WhenAllAsync(started, validated);
        var prepared = Workflow.ExecuteLocalActivityAsync(() => BenchActivities.Echo(v + 2), Local);
        var inferred = input.Shape == "processing-one-task"
            ? Workflow.ExecuteLocalActivityAsync(() => BenchActivities.Echo(v + 3), Local)
            : Workflow.ExecuteActivityAsync(() => BenchActivities.Echo(v + 3), Remote);
        await Workflow.WhenAllAsync(prepared, inferred);
        string processed;
        if (input.Shape == "processing-inline")
        {
            processed = prepared.Result + inferred.Result;
        }
        else
        {
            var aggregated = await Workflow.ExecuteLocalActivityAsync(() => BenchActivities.Echo(v + 4), Local);
            processed = await Workflow.ExecuteLocalActivityAsync(() => BenchActivities.Echo(v + 5), Local) + aggregated;
        }

        return await Workflow.ExecuteLocalActivityAsync(() => BenchActivities.Echo(v + 6), Local) + processed;
    }
}
