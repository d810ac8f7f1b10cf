using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Microsoft.Extensions.DependencyInjection;

internal static class WorkflowBench
{
    public static async Task Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "batch")
        {
            await BatchBench.RunAsync(args);
            return;
        }

        if (args.Length > 0 && args[0] == "auto")
        {
            await AutoTrainingBench.RunAsync(args);
            return;
        }

        if (args.Length > 0 && args[0] == "request-log")
        {
            await RequestLogBench.RunAsync(args);
            return;
        }

        if (args.Length > 0 && args[0] == "sync-answer")
        {
            await SyncAnswerBench.RunAsync(args);
            return;
        }

        if (args.Length > 0 && args[0] == "prediction-log")
        {
            await PredictionLogBench.RunAsync(args);
            return;
        }

        if (args.Length > 0 && args[0] == "feedback-log")
        {
            await FeedbackLogBench.RunAsync(args);
            return;
        }

        // The workflow REST paths through the real host (in-memory HTTP, embedded Temporal server over loopback gRPC),
        // beside the raw IModelModule.PredictAsync baseline in the same process. Bounded: a few hundred requests; the
        // sizes are arguments (predictions, 0, warm-up predictions, sustained callers, sustained requests).
        // Tiered JIT keeps recompiling for the first few thousand requests: a warm-up of ~3000 measures the steady state.
        var requests = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 300;
        // The second argument once sized a small batch job run here; batch jobs are measured by the batch mode alone.
        if (args.Length > 1 && args[1] != "0")
        {
            Console.Error.WriteLine(
                "The second argument must be 0: measure batch jobs with 'batch <rows> <postgres|sqlite> <chunk> <parallelism>'.");
            Environment.Exit(2);
        }

        var warmup = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20;
        var callers = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 8;
        var total = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : requests * 2;
        var data = Directory.CreateTempSubdirectory("formanova-bench-wf-").FullName;
        var (factory, client) = await BenchHost.StartAsync(data, new Dictionary<string, string?> { ["Model:Bootstrap:Rows"] = "2000" });
        var inputs = BenchHost.DemoInputs();
        var body = new { model = "demo-churn", inputs, @params = new { useCache = false } };
        var models = factory.Services.GetRequiredService<IModelModule>();

        async Task<List<double>> TimeAsync(int count, Func<Task> action)
        {
            var times = new List<double>(count);
            for (var i = 0; i < count; i++)
            {
                var watch = Stopwatch.StartNew();
                await action();
                times.Add(watch.Elapsed.TotalMilliseconds);
            }

            times.Sort();
            return times;
        }

        static double Median(List<double> sorted) => sorted[sorted.Count / 2];

        // Process CPU per request: robust on a shared box where wall-clock medians move with the neighbours' load.
        static TimeSpan Cpu() => Process.GetCurrentProcess().TotalProcessorTime;

        await TimeAsync(warmup, async () => (await client.PostAsJsonAsync("/api/v1/predictions", body)).EnsureSuccessStatusCode());
        await TimeAsync(Math.Min(warmup, 500), async () => (await client.PostAsJsonAsync("/api/v1/jobs", body)).EnsureSuccessStatusCode());
        var raw = await TimeAsync(requests, () => models.PredictAsync(new PredictRequest("demo-churn", inputs, UseCache: false)));
        var cpu0 = Cpu();
        var sync = await TimeAsync(
            requests,
            async () => (await client.PostAsJsonAsync("/api/v1/predictions", body)).EnsureSuccessStatusCode());
        var syncCpu = (Cpu() - cpu0).TotalMilliseconds / requests;
        await BreakdownAsync(factory.Services, client, body, models, inputs);
        cpu0 = Cpu();
        var accept = await TimeAsync(requests, async () => (await client.PostAsJsonAsync("/api/v1/jobs", body)).EnsureSuccessStatusCode());
        // The accepted jobs run on after their 202; their CPU is counted by the drain below, not here.
        var acceptCpu = (Cpu() - cpu0).TotalMilliseconds / requests;
        await Task.Delay(TimeSpan.FromSeconds((requests / 50.0) + 2));

        // Sustained rate: concurrent callers (8 unless given) for a fixed number of synchronous predictions (twice the
        // series unless given).
        var done = 0;
        var underLoad = new List<(string JobId, double Milliseconds)>(total);
        cpu0 = Cpu();
        var machine0 = MachineTicks();
        var rate = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(async _ =>
        {
            while (Interlocked.Increment(ref done) <= total)
            {
                var watch = Stopwatch.StartNew();
                var response = (await client.PostAsJsonAsync("/api/v1/predictions", body)).EnsureSuccessStatusCode();
                var elapsed = watch.Elapsed.TotalMilliseconds;
                var jobId = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["jobId"]!;
                lock (underLoad)
                {
                    underLoad.Add((jobId, elapsed));
                }
            }
        }));
        var perSecond = total / rate.Elapsed.TotalSeconds;
        var machineBusy = MachineBusy(machine0, MachineTicks());
        var sustainedCpu = (Cpu() - cpu0).TotalMilliseconds / total;
        await LoadSplitAsync(factory.Services, underLoad);
        Console.WriteLine($"raw IModelModule.PredictAsync (cache miss): median {Median(raw):F2} ms");
        Console.WriteLine($"POST /api/v1/predictions (sync, cache miss): median {Median(sync):F2} ms, p95 " +
            $"{sync[(int)(sync.Count * 0.95)]:F2} ms, ratio to raw {Median(sync) / Median(raw):F1}x, process CPU {syncCpu:F1} ms/request");
        Console.WriteLine($"POST /api/v1/predictions sustained, {callers} concurrent callers: {perSecond:F0} req/s over {total} " +
            $"requests, process CPU {sustainedCpu:F1} ms/request");
        // The process's own CPU leaves out the kernel's loopback network work (softirq), so the machine's figure says
        // whether the cores were saturated.
        Console.WriteLine($"  while sustained: the machine's {Environment.ProcessorCount} cores {machineBusy:P0} busy, this process " +
            $"{sustainedCpu * perSecond / 1000 / Environment.ProcessorCount:P0} of them");
        Console.WriteLine($"POST /api/v1/jobs (202 acceptance): median {Median(accept):F2} ms, p95 " +
            $"{accept[(int)(accept.Count * 0.95)]:F2} ms, process CPU until the 202 {acceptCpu:F1} ms/request");

        Console.WriteLine($"process CPU: {Cpu().TotalSeconds:F1} s");
        await factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(data, recursive: true);
    }

    /// <summary>All cores' busy and total clock ticks from /proc/stat (zeros where it does not exist).</summary>
    private static (long Busy, long Total) MachineTicks()
    {
        if (!File.Exists("/proc/stat"))
        {
            return (0, 0);
        }

        // cpu user nice system idle iowait irq softirq steal ...
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
            .Select(long.Parse)
            .ToArray();
        var total = fields.Sum();
        return (total - fields[3] - fields[4], total);
    }

    private static double MachineBusy((long Busy, long Total) before, (long Busy, long Total) after) =>
        after.Total == before.Total ? double.NaN : (double)(after.Busy - before.Busy) / (after.Total - before.Total);

    /// <summary>
    /// Under sustained load, how much of the caller's wait is inside the run (workflow start to close, from the
    /// history) and how much outside it (HTTP, the start call, waiting for the result): a sample of 100 requests.
    /// </summary>
    private static async Task LoadSplitAsync(IServiceProvider services, List<(string JobId, double Milliseconds)> requests)
    {
        var temporal = services.GetRequiredService<Temporalio.Client.ITemporalClient>();
        var inside = new List<double>();
        var caller = new List<double>();
        // The gap between consecutive events (markers are written with their task's completion, so they are skipped):
        // which stage the waiting happens in, e.g. a workflow task queued before a poller takes it.
        var gaps = new Dictionary<string, List<double>>();
        foreach (var (jobId, milliseconds) in requests.Where((_, i) => i % Math.Max(1, requests.Count / 100) == 0))
        {
            var events = (await temporal.GetWorkflowHandle(jobId).FetchHistoryAsync()).Events
                .Where(e => e.EventType != Temporalio.Api.Enums.V1.EventType.MarkerRecorded)
                .ToList();
            inside.Add((events[^1].EventTime.ToDateTime() - events[0].EventTime.ToDateTime()).TotalMilliseconds);
            caller.Add(milliseconds);
            var seen = new Dictionary<string, int>();
            foreach (var (from, to, gap) in BenchHost.Gaps(events))
            {
                var step = $"{from.EventType} -> {to.EventType}";
                seen[step] = seen.GetValueOrDefault(step) + 1;
                var key = seen[step] > 1 ? $"{step} ({seen[step]})" : step;
                (gaps.TryGetValue(key, out var list) ? list : gaps[key] = []).Add(gap);
            }
        }

        inside.Sort();
        caller.Sort();
        Console.WriteLine($"  under load: caller median {caller[caller.Count / 2]:F1} ms, run start to close median " +
            $"{inside[inside.Count / 2]:F1} ms (p95 {inside[(int)(inside.Count * 0.95)]:F1} ms)");
        foreach (var (step, list) in gaps.Where(g => g.Value.Count * 2 >= inside.Count)
            .OrderByDescending(g => g.Value.Order().ElementAt(g.Value.Count / 2))
            .Take(6))
        {
            var sorted = list.Order().ToList();
            Console.WriteLine($"    {step}: median {sorted[sorted.Count / 2]:F1} ms");
        }
    }

    /// <summary>
    /// Where one synchronous prediction's time goes: the run's history (workflow tasks, activity round trips, local
    /// activity markers with the time each took) beside the HTTP round trip the caller saw.
    /// </summary>
    private static async Task BreakdownAsync(
        IServiceProvider services,
        HttpClient client,
        object body,
        IModelModule models,
        Dictionary<string, object?> inputs)
    {
        var temporal = services.GetRequiredService<Temporalio.Client.ITemporalClient>();
        var watch = Stopwatch.StartNew();
        var response = await client.PostAsJsonAsync("/api/v1/predictions", body);
        var http = watch.Elapsed.TotalMilliseconds;
        var jobId = (string)(await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonObject>())!["jobId"]!;
        var history = await temporal.GetWorkflowHandle(jobId).FetchHistoryAsync();
        var events = history.Events.ToList();
        var start = events[0].EventTime.ToDateTime();
        Console.WriteLine(
            $"breakdown of one POST /api/v1/predictions ({jobId}): HTTP round trip {http:F1} ms, {events.Count} history events");
        var scheduled = new Dictionary<long, (string Name, DateTime At)>();
        foreach (var e in events)
        {
            var at = (e.EventTime.ToDateTime() - start).TotalMilliseconds;
            var detail = e.EventType switch
            {
                Temporalio.Api.Enums.V1.EventType.ActivityTaskScheduled => e.ActivityTaskScheduledEventAttributes.ActivityType.Name,
                Temporalio.Api.Enums.V1.EventType.ActivityTaskCompleted =>
                    $"{scheduled[e.ActivityTaskCompletedEventAttributes.ScheduledEventId].Name}, " +
                    $"{(e.EventTime.ToDateTime() - scheduled[e.ActivityTaskCompletedEventAttributes.ScheduledEventId].At)
                        .TotalMilliseconds:F1} ms since scheduled",
                Temporalio.Api.Enums.V1.EventType.MarkerRecorded => e.MarkerRecordedEventAttributes.MarkerName,
                _ => "",
            };
            if (e.EventType == Temporalio.Api.Enums.V1.EventType.ActivityTaskScheduled)
            {
                scheduled[e.EventId] = (detail, e.EventTime.ToDateTime());
            }

            Console.WriteLine($"  {at,7:F1} ms  {e.EventType,-40} {detail}");
        }

        var workflowTasks = events.Count(e => e.EventType == Temporalio.Api.Enums.V1.EventType.WorkflowTaskCompleted);
        var activities = events.Count(e => e.EventType == Temporalio.Api.Enums.V1.EventType.ActivityTaskScheduled);
        var markers = events.Count(e => e.EventType == Temporalio.Api.Enums.V1.EventType.MarkerRecorded);
        var span = (events[^1].EventTime.ToDateTime() - start).TotalMilliseconds;
        Console.WriteLine($"  workflow tasks {workflowTasks}, activity tasks {activities}, local activities {markers}; start to close " +
            $"{span:F1} ms, outside the run {http - span:F1} ms");
        var raw = Stopwatch.StartNew();
        await models.PredictAsync(new PredictRequest("demo-churn", inputs, UseCache: false));
        Console.WriteLine($"  the inference itself (IModelModule.PredictAsync): {raw.Elapsed.TotalMilliseconds:F2} ms");

        // The writes a run makes (one stored result, three events), each measured alone: median of 20.
        var data = services.GetRequiredService<IDataModule>();
        var eventLog = services.GetRequiredService<Formanova.Modules.Event.IEventModule>();
        var persist = new List<double>();
        var publish = new List<double>();
        for (var i = 0; i < 20; i++)
        {
            var watch1 = Stopwatch.StartNew();
            await data.RecordResultAsync(new RecordResultRequest(
                $"bench-{i}",
                "result",
                ResultStatus.Succeeded,
                DateTimeOffset.UtcNow,
                DateTimeOffset.UtcNow,
                $"bench-{i}"));
            persist.Add(watch1.Elapsed.TotalMilliseconds);
            var watch2 = Stopwatch.StartNew();
            await eventLog.PublishAsync(new Formanova.Modules.Event.PublishEventRequest("BENCH_EVENT", "/bench", null, null, $"bench-{i}"));
            publish.Add(watch2.Elapsed.TotalMilliseconds);
        }

        persist.Sort();
        publish.Sort();
        Console.WriteLine($"  one stored result (IDataModule.RecordResultAsync): median {persist[10]:F2} ms; one event " +
            $"(IEventModule.PublishAsync): median {publish[10]:F2} ms");
    }
}
