using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Json;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;

namespace Formanova.Tests.Drills;

/// <summary>
/// Redis is SIGKILLed under a steady load of cached predictions and event publishes (which relay through Redis
/// pub/sub), then started again. The server is the drill's own (<see cref="PrivateRedis"/>); the host runs the
/// production cache settings (500 ms bound per Redis call, 5 s back-off).
/// </summary>
[Category("Integration")]
[Category("Drill")]
[NonParallelizable]
public sealed class RedisOutageDrillTests
{
    // Long enough for the cache to try Redis again after its 5 s back-off at least once while Redis is dead.
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(20);
    private const int DistinctInputs = 16;

    [Test]
    public async Task Api_WhenRedisIsKilledMidLoad_ServesFromL1WithNoFailedRequest()
    {
        await using var redis = await PrivateRedis.StartAsync();
        using var factory = DrillLoad.Host(("Cache:Redis", redis.Configuration));
        var client = await WorkflowTestKit.ClientAsync(factory);
        using var probe = factory.CreateClientWithKey(null);
        var load = new DrillLoad(TimeSpan.FromSeconds(30));
        var cachedHits = new ConcurrentBag<TimeSpan>();
        var readiness = new ConcurrentQueue<(TimeSpan At, string Status)>();
        using var stop = new CancellationTokenSource();
        var loops = Enumerable.Range(0, 4)
            .Select(_ => DrillLoad.Loop(i => PredictAsync(load, client, i, cachedHits), Pace, stop.Token)).ToList();
        loops.Add(DrillLoad.Loop(i => load.SendAsync("event", client, () => new HttpRequestMessage(HttpMethod.Post, "/api/v1/events")
        {
            Content = JsonContent.Create(new { type = "DRILL_EVENT", source = "/drills/redis", data = new { i } }),
        }), Pace, stop.Token));
        loops.Add(DrillLoad.Loop(async _ =>
        {
            var response = await load.SendAsync("ready", probe, () => new HttpRequestMessage(HttpMethod.Get, "/health/ready"));
            if (response is { IsSuccessStatusCode: true })
            {
                readiness.Enqueue((load.Now, (string)(await WorkflowTestKit.ReadAsync(response))["status"]!));
            }
        }, Pace, stop.Token));

        await LocalProcesses.UntilAsync(
            () => Task.FromResult(readiness.Any(r => r.Status == "Healthy") && cachedHits.Count >= DistinctInputs),
            TimeSpan.FromSeconds(60),
            "a healthy Redis and cache hits under load");
        var killed = load.Now;
        await redis.KillAsync();
        await LocalProcesses.UntilAsync(() => Task.FromResult(readiness.Any(r => r.At > killed && r.Status == "Degraded")),
            TimeSpan.FromSeconds(15), "readiness to report Redis degraded");
        var degradedAfter = readiness.First(r => r.At > killed && r.Status == "Degraded").At - killed;

        // The outage itself: its length is the drill's parameter, not a wait for anything.
        await Task.Delay(Outage - (load.Now - killed));
        var restarted = load.Now;
        await using var again = await redis.RestartAsync();
        await LocalProcesses.UntilAsync(() => Task.FromResult(readiness.Any(r => r.At > restarted && r.Status == "Healthy")),
            TimeSpan.FromSeconds(30), "readiness to report Redis healthy again");
        var healthyAfter = readiness.First(r => r.At > restarted && r.Status == "Healthy").At - restarted;

        await stop.CancelAsync();
        await Task.WhenAll(loops);
        var during = load.Samples.Where(s => s.At >= killed && s.At < restarted && s.Kind != "ready").ToList();
        var hitsWhileDead = cachedHits.Count(t => t >= killed && t < restarted);
        TestContext.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Redis drill: killed for {Outage.TotalSeconds} s; readiness Degraded after {degradedAfter.TotalSeconds:F1} s, "
            + $"Healthy {healthyAfter.TotalSeconds:F1} s after the restart; {during.Count} requests while Redis was dead "
            + $"(max {during.Max(s => s.Took.TotalMilliseconds):F0} ms), {hitsWhileDead} of them cache hits; {load.Summary()}"));

        var failed = load.Samples.Where(s => !s.Succeeded).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(failed, Is.Empty, "no request fails because Redis died:" + DrillLoad.Describe(failed));
            Assert.That(during.Count(s => s.Kind == "predict"), Is.GreaterThan(0), "predictions ran while Redis was dead");
            Assert.That(hitsWhileDead, Is.GreaterThan(0), "L1 served cached predictions while Redis was dead");
        });
    }

    /// <summary>A direct prediction over a small set of inputs, so most answers are cache hits.</summary>
    private static async Task PredictAsync(DrillLoad load, HttpClient client, int i, ConcurrentBag<TimeSpan> cachedHits)
    {
        var inputs = WorkflowTestKit.ValidInput();
        inputs["tenure_months"] = (double)(i % DistinctInputs);
        var at = load.Now;
        var response = await load.SendAsync("predict", client, () => DrillLoad.Predict(inputs));
        if (response is { IsSuccessStatusCode: true } && (await WorkflowTestKit.ReadAsync(response))["cached"]?.GetValue<bool>() == true)
        {
            cachedHits.Add(at);
        }
    }
}
