using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;

namespace Formanova.Tests.Drills;

/// <summary>
/// PostgreSQL stops for 30 s (the figure in docs/operations.md, Drills) under a steady load of imports, direct and workflow
/// predictions, jobs and event publishes. The cluster is the drill's own (<see cref="PrivatePostgres"/>), stopped
/// with <c>pg_ctl stop -m immediate</c> as a crash would; the host runs the production retry policy and timeouts.
/// </summary>
[Category("Integration")]
[Category("Drill")]
[NonParallelizable]
public sealed class PostgresOutageDrillTests
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(30);

    // Load pacing: each loop sends its next request this long after the previous answer (a retry included).
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(200);
    private const int RowsPerImport = 20;

    [Test]
    public async Task Api_WhenPostgresStopsFor30Seconds_Answers503WithRetryAfterAndLosesNothingAcknowledged()
    {
        await using var postgres = await PrivatePostgres.StartAsync();
        using var factory = DrillLoad.Host(("Database:Provider", "Postgres"), ("Database:ConnectionString", postgres.ConnectionString));
        var client = await WorkflowTestKit.ClientAsync(factory);
        // Readiness is probed as Kubernetes does: without a key.
        using var probe = factory.CreateClientWithKey(null);
        var activeBefore = await ActiveVersionAsync(client);
        var drill = new Clients(client, await CreateDatasetAsync(client));
        var load = drill.Load;

        using var stop = new CancellationTokenSource();
        Task[] loops =
        [
            DrillLoad.Loop(i => drill.ImportAsync($"a{i}"), Pace, stop.Token),
            DrillLoad.Loop(i => drill.ImportAsync($"b{i}"), Pace, stop.Token),
            DrillLoad.Loop(drill.PredictAsync, Pace, stop.Token),
            DrillLoad.Loop(drill.PredictThroughWorkflowAsync, Pace, stop.Token),
            DrillLoad.Loop(drill.SubmitJobAsync, Pace, stop.Token),
            DrillLoad.Loop(drill.PublishAsync, Pace, stop.Token),
            DrillLoad.Loop(
                _ => load.SendAsync("ready", probe, () => new HttpRequestMessage(HttpMethod.Get, "/health/ready")),
                Pace,
                stop.Token),
        ];
        string[] kinds = ["import", "predict", "prediction", "job", "event", "ready"];
        await EveryKindSucceedsAsync(load, kinds, TimeSpan.Zero, "every loop to succeed once");

        var stopped = load.Now;
        await postgres.StopAsync();
        var down = await load.FirstAsync(
            s => s.Kind == "ready" && s.At > stopped && s.Status == 503,
            TimeSpan.FromSeconds(15),
            "a 503 probe");

        // The outage itself: its length is the drill's parameter, not a wait for anything.
        await Task.Delay(Outage - (load.Now - stopped));
        var restarted = load.Now;
        await postgres.StartServerAsync();
        var up = await load.FirstAsync(s => s.Kind == "ready" && s.At >= restarted && s.Succeeded, TimeSpan.FromSeconds(30), "readiness");
        await EveryKindSucceedsAsync(load, kinds, restarted, "every loop to succeed after the restart");
        var allBack = load.Samples.Where(s => s.At >= restarted && s.Succeeded).GroupBy(s => s.Kind).Max(g => g.Min(s => s.At + s.Took));

        await stop.CancelAsync();
        await Task.WhenAll(loops);
        TestContext.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Postgres drill: stopped {Outage.TotalSeconds} s; readiness failed {(down.At - stopped).TotalSeconds:F1} s after the stop and "
            + $"answered 200 {(up.At + up.Took - restarted).TotalSeconds:F1} s after the restart; every kind of request succeeded again "
            + $"{(allBack - restarted).TotalSeconds:F1} s after it; {drill.Jobs.Count} runs acknowledged; {load.Summary()}"));

        var during = load.Samples.Where(s => s.At >= stopped && s.At < restarted).ToList();
        var unexpected = load.Unexpected(HttpStatusCode.ServiceUnavailable);
        // Not a hang: a failure answers at once; a synchronous prediction waits its 10 s (Workflows:SyncTimeoutSeconds) and answers 202.
        var slow = load.Samples.Where(s => s.Took > (s.Kind == "prediction" ? TimeSpan.FromSeconds(20) : TimeSpan.FromSeconds(10)))
            .ToList();
        var bare503 = load.Samples
            .Where(s => s.Status == 503 && s.Kind != "ready" && !(s.RetryAfter && s.MediaType == "application/problem+json")).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(unexpected, Is.Empty, "only 503 may fail (no 500, no request left unanswered):" + DrillLoad.Describe(unexpected));
            Assert.That(bare503, Is.Empty, "every 503 is a ProblemDetails with Retry-After:" + DrillLoad.Describe(bare503));
            Assert.That(slow, Is.Empty, "no request hangs:" + DrillLoad.Describe(slow));
            Assert.That(during.Count(s => s.Kind == "import" && s.Status == 503), Is.GreaterThan(0), "the imports saw the outage");
            Assert.That(
                drill.Jobs.Values.Count(j => j.At >= stopped && j.At < restarted),
                Is.GreaterThan(0),
                "runs accepted during the outage");
        });

        // Everything acknowledged is there, once: the rows of every import that answered 200 and no other, every
        // event published with a 2xx, and every prediction answered 200 or job answered 202 completed with its result.
        var expectedRows = drill.Imports.Keys.ToDictionary(k => k, _ => RowsPerImport);
        Assert.That(await RowsByImportAsync(client, drill.Dataset), Is.EquivalentTo(expectedRows), "rows per acknowledged import");
        var logged = await ReadAllEventsAsync(client);
        Assert.That(
            logged.Where(e => drill.Events.ContainsKey(e.Key)).ToDictionary(),
            Is.EquivalentTo(drill.Events),
            "acknowledged events");
        foreach (var (id, (kind, _)) in drill.Jobs)
        {
            var job = await WorkflowTestKit.PollAsync(
                client, $"/api/v1/jobs/{id}", j => WorkflowTestKit.Status(j) != "running", TimeSpan.FromSeconds(120));
            Assert.That(WorkflowTestKit.Status(job), Is.EqualTo("completed"), $"{kind} {id}: {job.ToJsonString()}");
            Assert.That(job["result"]?["jobId"]?.GetValue<string>(), Is.EqualTo(id));
        }

        Assert.That(
            await ActiveVersionAsync(client),
            Is.EqualTo(activeBefore),
            "a database outage is no reason to fall back from a version");
    }

    private static Task EveryKindSucceedsAsync(DrillLoad load, string[] kinds, TimeSpan since, string what) =>
        LocalProcesses.UntilAsync(() => Task.FromResult(kinds.All(k => load.SucceededSince(k, since))), TimeSpan.FromSeconds(60), what);

    private static async Task<string?> ActiveVersionAsync(HttpClient client) =>
        (string?)(await WorkflowTestKit.ReadAsync(await client.GetAsync($"/api/v1/models/{WorkflowTestKit.DemoModel}")))["activeVersion"];

    private static async Task<long> CreateDatasetAsync(HttpClient client)
    {
        var created = await client.PostAsJsonAsync("/api/v1/datasets", new
        {
            name = "drill-postgres",
            columns = new object[] { new { name = "k", type = "categorical" }, new { name = "x", type = "numeric" } },
        });
        return (long)(await WorkflowTestKit.ReadAsync(created))["id"]!;
    }

    /// <summary>The exported rows counted by the import they came from (their key is "{importId}-{row}").</summary>
    private static async Task<Dictionary<string, int>> RowsByImportAsync(HttpClient client, long dataset)
    {
        var exported = await client.GetStringAsync($"/api/v1/datasets/{dataset}/export?format=csv");
        return exported.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .GroupBy(line => line[..line.LastIndexOf('-')]).ToDictionary(g => g.Key, g => g.Count());
    }

    /// <summary>Every DRILL_EVENT in the log: its data's <c>i</c> and its sequence.</summary>
    private static async Task<Dictionary<int, long>> ReadAllEventsAsync(HttpClient client)
    {
        var all = new Dictionary<int, long>();
        long after = 0;
        while (true)
        {
            var page = await WorkflowTestKit.ReadAsync(await client.GetAsync($"/api/v1/events?type=DRILL_EVENT&after={after}&limit=1000"));
            foreach (var item in page["items"]!.AsArray())
            {
                var i = (int)item!["data"]!["i"]!;
                Assert.That(
                    all.TryAdd(i, long.Parse((string)item["id"]!, CultureInfo.InvariantCulture)),
                    Is.True,
                    $"event {i} is logged once");
            }

            if (page["nextAfter"] is not { } next)
            {
                return all;
            }

            after = (long)next;
        }
    }

    /// <summary>The drill's clients, and what the API acknowledged to them.</summary>
    private sealed class Clients(HttpClient client, long dataset)
    {
        public DrillLoad Load { get; } = new(TimeSpan.FromSeconds(30));

        public long Dataset => dataset;

        /// <summary>Acknowledged imports: id → rows accepted.</summary>
        public ConcurrentDictionary<string, long> Imports { get; } = new();

        /// <summary>Runs answered 200 (a prediction) or 202 (accepted): id → what and when it was sent.</summary>
        public ConcurrentDictionary<string, (string Kind, TimeSpan At)> Jobs { get; } = new();

        /// <summary>Events answered 2xx: data.i → sequence.</summary>
        public ConcurrentDictionary<int, long> Events { get; } = new();

        /// <summary>One import, retried with the same id until it is acknowledged (or a minute has passed).</summary>
        public Task ImportAsync(string importId)
        {
            var csv = new StringBuilder("k,x\n");
            for (var r = 0; r < RowsPerImport; r++)
            {
                csv.Append(CultureInfo.InvariantCulture, $"{importId}-{r},{r}\n");
            }

            return RetryAsync("import", () => new HttpRequestMessage(
                HttpMethod.Post,
                $"/api/v1/datasets/{dataset}/rows?importId={importId}")
            {
                Content = new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"),
            }, body => Imports[importId] = (long)body["rowsAccepted"]!);
        }

        public Task PredictAsync(int i)
        {
            var inputs = WorkflowTestKit.ValidInput();
            inputs["tenure_months"] = (double)(i % 72);
            return Load.SendAsync("predict", client, () => DrillLoad.Predict(inputs));
        }

        /// <summary>POST /predictions: 200 carries the stored result's job id, 202 the job to follow.</summary>
        public async Task PredictThroughWorkflowAsync(int i)
        {
            var inputs = WorkflowTestKit.ValidInput();
            inputs["monthly_charges"] = 20.0 + i;
            var at = Load.Now;
            var response = await Load.SendAsync("prediction", client, () => new HttpRequestMessage(HttpMethod.Post, "/api/v1/predictions")
            {
                Content = JsonContent.Create(WorkflowTestKit.Body(inputs)),
            });
            if (response is { IsSuccessStatusCode: true })
            {
                var body = await WorkflowTestKit.ReadAsync(response);
                Jobs[(string)(body["jobId"] ?? body["id"])!] = ($"prediction ({(int)response.StatusCode})", at);
            }
        }

        /// <summary>
        /// POST /jobs with an Idempotency-Key (whose claim needs the database), retried with the same key until accepted.
        /// </summary>
        public Task SubmitJobAsync(int i) => RetryAsync("job", () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs") { Content = JsonContent.Create(WorkflowTestKit.Body()) };
            request.Headers.Add("Idempotency-Key", $"drill-job-{i}");
            return request;
        }, body => Jobs[(string)body["id"]!] = ("job (202)", Load.Now));

        public Task PublishAsync(int i) => RetryAsync("event", () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events")
            {
                Content = JsonContent.Create(new { type = "DRILL_EVENT", source = "/drills/postgres", data = new { i } }),
            };
            request.Headers.Add("Idempotency-Key", $"drill-event-{i}");
            return request;
        }, body => Events[i] = long.Parse((string)body["id"]!, CultureInfo.InvariantCulture));

        private async Task RetryAsync(string kind, Func<HttpRequestMessage> request, Action<JsonObject> acknowledged)
        {
            var deadline = Load.Now + TimeSpan.FromMinutes(1);
            while (Load.Now < deadline)
            {
                var response = await Load.SendAsync(kind, client, request);
                if (response is { IsSuccessStatusCode: true })
                {
                    acknowledged(await WorkflowTestKit.ReadAsync(response));
                    return;
                }

                await Task.Delay(Pace);
            }
        }
    }
}
