using System.Globalization;
using Formanova.DevServer;
using Temporalio.Client;
using Temporalio.Client.Schedules;

namespace Formanova.Bench.DevServer;

/// <summary>
/// Schedule firing accuracy: several schedules every second (overlap ALLOW_ALL, no jitter) until the wanted number
/// of actions fired; lateness is each started run's start time (the server's clock) minus the action's nominal time
/// (the whole second in its workflow id). Reports p50 and p99.
/// </summary>
internal static class ScheduleBench
{
    public static async Task RunAsync(string storage, int firings, int schedules)
    {
        var directory = Path.Combine(Path.GetTempPath(), "devserver-bench-" + Guid.NewGuid().ToString("N"));
        var path = storage == "sqlite" ? Path.Combine(directory, "bench.db") : ":memory:";
        await using var host = new DevServerHost();
        var address = await host.StartAsync(new DevServerOptions { Port = 0, StoragePath = path });
        var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address));
        var queue = "bench-" + Guid.NewGuid().ToString("N");
        var perSchedule = (firings + schedules - 1) / schedules;
        var handles = new List<ScheduleHandle>();
        for (var i = 0; i < schedules; i++)
        {
            var id = $"bench-schedule-{i}";
            var action = ScheduleActionStartWorkflow.Create("BenchScheduled", [], new(id, queue));
            handles.Add(await client.CreateScheduleAsync(id, new Schedule(action, new ScheduleSpec
            {
                Intervals = [new ScheduleIntervalSpec(TimeSpan.FromSeconds(1))],
            })
            {
                Policy = new SchedulePolicy { Overlap = Temporalio.Api.Enums.V1.ScheduleOverlapPolicy.AllowAll },
                State = new ScheduleState { LimitedActions = true, RemainingActions = perSchedule },
            }));
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(perSchedule + 30);
        while ((await client.CountWorkflowsAsync($"TaskQueue = '{queue}'")).Count < perSchedule * schedules && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
        }

        var lateness = new List<double>();
        await foreach (var run in client.ListWorkflowsAsync($"TaskQueue = '{queue}'"))
        {
            var nominal = DateTime.ParseExact(
                run.Id[^20..],
                "yyyy-MM-ddTHH:mm:ssZ",
                CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
            lateness.Add((run.StartTime - nominal).TotalMilliseconds);
        }

        lateness.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{storage}: {lateness.Count} firings of {schedules} schedules every second, " +
            $"lateness p50 {Percentile(lateness, 0.50):F1} ms, " +
            $"p99 {Percentile(lateness, 0.99):F1} ms, max {(lateness.Count > 0 ? lateness[^1] : 0):F1} ms"));
        foreach (var handle in handles)
        {
            await handle.DeleteAsync();
        }

        await host.StopAsync();
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}
