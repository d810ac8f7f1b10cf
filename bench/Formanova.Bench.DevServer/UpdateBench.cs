using System.Diagnostics;
using System.Globalization;
using Formanova.DevServer;
using Temporalio.Client;
using Temporalio.Worker;
using Temporalio.Workflows;

namespace Formanova.Bench.DevServer;

/// <summary>
/// Update round trip: ExecuteUpdateAsync against a running workflow with the SDK worker in the same process, one
/// update in flight, so each sample is UpdateWorkflowExecution, the speculative task that carries the update to the
/// sticky worker, its completion with the accepted and completed events, and the answer.
/// </summary>
internal static class UpdateBench
{
    // Temporal caps updates per run (history.maxTotalUpdates, 2,000 by default); a fresh run keeps histories comparable.
    private const int UpdatesPerRun = 1000;

    public static async Task RunAsync(string storage, string? external, int updates, int warmup, GrpcCompression compression)
    {
        var directory = Path.Combine(Path.GetTempPath(), "devserver-bench-" + Guid.NewGuid().ToString("N"));
        var path = storage == "sqlite" ? Path.Combine(directory, "bench.db") : ":memory:";
        await using var host = new DevServerHost();
        var address = external ?? await host.StartAsync(new DevServerOptions { Port = 0, StoragePath = path });
        var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address) { GrpcCompression = compression });
        var queue = "bench-" + Guid.NewGuid().ToString("N");
        using var worker = new TemporalWorker(client, new TemporalWorkerOptions(queue).AddWorkflow<UpdateBenchWorkflow>());
        await worker.ExecuteAsync(async () =>
        {
            await MeasureAsync(client, queue, warmup);
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            var latencies = await MeasureAsync(client, queue, updates);
            var elapsed = clock.Elapsed;
            var cpuPerUpdate = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / Math.Max(1, updates);
            latencies.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{storage}, updates: {updates} after {warmup} warm-up, one in flight: p50 {Percentile(latencies, 0.50):F2} ms, " +
                $"p99 {Percentile(latencies, 0.99):F2} ms, max {latencies[^1]:F2} ms; {updates / elapsed.TotalSeconds:F0} updates/s, " +
                $"process CPU {cpuPerUpdate:F2} ms per update"));
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

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * p))];

    private static async Task<List<double>> MeasureAsync(TemporalClient client, string queue, int updates)
    {
        var latencies = new List<double>(updates);
        WorkflowHandle<UpdateBenchWorkflow>? handle = null;
        for (var i = 0; i < updates; i++)
        {
            if (i % UpdatesPerRun == 0)
            {
                if (handle is not null)
                {
                    await handle.SignalAsync(wf => wf.StopAsync());
                }

                handle = await client.StartWorkflowAsync(
                    (UpdateBenchWorkflow wf) => wf.RunAsync(),
                    new($"bench-{Guid.NewGuid():N}", queue));
                // The first task runs before the clock does: samples measure updates against a running workflow.
                await handle.ExecuteUpdateAsync(wf => wf.IncrementAsync(0));
            }

            var value = i;
            var one = Stopwatch.StartNew();
            await handle!.ExecuteUpdateAsync(wf => wf.IncrementAsync(value));
            latencies.Add(one.Elapsed.TotalMilliseconds);
        }

        if (handle is not null)
        {
            await handle.SignalAsync(wf => wf.StopAsync());
        }

        return latencies;
    }
}

[Workflow]
public class UpdateBenchWorkflow
{
    private bool _stopped;
    private int _count;

    [WorkflowRun]
    public Task RunAsync() => Workflow.WaitConditionAsync(() => _stopped);

    [WorkflowUpdate]
    public Task<int> IncrementAsync(int value)
    {
        _count++;
        return Task.FromResult(value + _count);
    }

    [WorkflowSignal]
    public Task StopAsync()
    {
        _stopped = true;
        return Task.CompletedTask;
    }
}
