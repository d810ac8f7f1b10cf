using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Temporalio.Client;

namespace Formanova.Tests.Host.Security;

/// <summary>
/// Reads the live /openapi/v1.json and sends every operation generated hostile variants of each path, query and
/// header parameter and of each body field (<see cref="HostileVariants"/>), so an endpoint added later is attacked
/// without anyone listing it. Beside the hand-written <see cref="BadInputCorpusTests"/>, which attacks whole bodies.
/// Every answer must be a non-5xx within the timeout, every 4xx a ProblemDetails, a non-finite value for a declared
/// number a 4xx, and a rejected request (and any GET) must leave the stored state as it was. After an accepted write the workflows it
/// started are let run until
/// they wait, so that what they write is not blamed on the next request.
/// </summary>
[Category("Integration")]
public sealed class GeneratedHostileInputTests
{
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(30);

    // Writes that end or replace what the fixtures set up (an archived demo model predicts nothing, a replaced schema
    // has none of the fixture's columns) are sent after the others: PUT, then these verbs, then DELETE.
    private static readonly string[] EndingVerbs = ["archive", "cancel", "reject"];

    [Test]
    public async Task EveryOpenApiOperation_WhenSentGeneratedHostileVariants_Answers4xxProblemsAndRejectedRequestsChangeNothing()
    {
        // Real Kestrel: hostile paths and headers must meet the production parser. Loopback webhooks are allowed
        // only so the fixture webhook exists; its deliveries go to a closed port on 127.0.0.1.
        using var factory = new FormanovaFactory(WorkflowTestKit.Settings(
            ("Model:Bootstrap:Rows", "400"), ("Event:Webhooks:AllowLoopback", "true"), ("Workflows:SyncTimeoutSeconds", "10"),
            ("Workflows:ExternalService:Url", "")));
        factory.UseKestrel(0);
        factory.StartServer();
        await factory.Services.GetRequiredService<ModelBootstrapper>().Completed;
        using var client = Client(factory);
        var fixtures = await FixturesAsync(factory.Services, client);
        var api = OpenApiOperations.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var generator = new HostileVariants(api, fixtures);
        static int Rank(ApiOperation o) => o.Method switch
        {
            "GET" => 0,
            "DELETE" => 4,
            _ when EndingVerbs.Contains(o.Path.Split('/')[^1]) => 3,
            "PUT" => 2,
            _ => 1,
        };
        var operations = api.Operations.OrderBy(Rank).ThenBy(o => o.Path, StringComparer.Ordinal)
            .ThenBy(o => o.Method, StringComparer.Ordinal)
            .ToList();

        var failures = new List<string>();
        var statuses = new SortedDictionary<int, int>();
        var classes = new SortedDictionary<string, SortedDictionary<string, int>>(StringComparer.Ordinal);
        var time = new Dictionary<ApiOperation, TimeSpan>();
        var accepted = new HashSet<ApiOperation>();
        var state = await StateAsync(factory.Services);
        var clock = Stopwatch.StartNew();

        // Every operation's variants; after the writes and before what ends the fixtures, every GET once more,
        // unattacked: what the accepted writes stored must still be served.
        var cases = operations.Where(o => Rank(o) < 3).SelectMany(generator.For)
            .Concat(operations.Where(o => o.Method == "GET").Select(o => generator.Valid(o, "readback:after the writes")))
            .Concat(operations.Where(o => Rank(o) >= 3).SelectMany(generator.For));
        foreach (var hostile in cases)
        {
            var operation = hostile.Operation;
            var started = clock.Elapsed;
            var (status, failure, answer) =
                await HostileRequests.SendAsync(client, operation.Method, hostile.Path, hostile.Body, hostile.Headers);
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            var perClass = classes.TryGetValue(hostile.Class, out var c) ? c : classes[hostile.Class] = new(StringComparer.Ordinal);
            var bucket = status == 0 ? "none" : $"{status / 100}xx";
            perClass[bucket] = perClass.GetValueOrDefault(bucket) + 1;
            if (failure is not null)
            {
                failures.Add($"{hostile} -> {failure}");
            }
            else if (hostile.MustBeRefused && status is >= 200 and < 300)
            {
                failures.Add($"{hostile} -> {status}: a non-finite value accepted for a number");
            }

            // A synchronous workflow endpoint answers a run that failed with a 4xx naming the job it recorded:
            // that request was accepted, and the run is kept like any other.
            var ran = status is >= 400 and < 500 && NamesAJob(answer);
            if ((status is >= 400 and < 500 && !ran) || (operation.Method == "GET" && status is > 0 and < 500))
            {
                var after = await StateAsync(factory.Services);
                var changed = after.Keys.Where(area => after[area] != state[area]).ToList();
                if (changed.Count > 0)
                {
                    var diff = changed.Select(a => $"{a}: {HostileRequests.Truncate(state[a])} => {HostileRequests.Truncate(after[a])}");
                    failures.Add($"{hostile} -> {status} but changed {string.Join("; ", diff)}");
                }

                state = after;
            }
            else
            {
                // Accepted (or failed): let the work it started reach a wait before the next comparison.
                if (!await SettleAsync(factory.Services))
                {
                    failures.Add($"{hostile} -> {status}, and its workflows were still running after {SettleTimeout.TotalSeconds} s");
                }

                state = await StateAsync(factory.Services);
            }

            time[operation] = time.GetValueOrDefault(operation) + (clock.Elapsed - started);
            if (status is >= 200 and < 300 || ran)
            {
                accepted.Add(operation);
            }
        }

        var requests = statuses.Values.Sum();
        TestContext.Out.WriteLine(
            $"Generated hostile input: {requests} requests to {operations.Count} operations in {clock.Elapsed.TotalSeconds:F0} " +
            $"s; {failures.Count} failures.");
        TestContext.Out
            .WriteLine("By status: " + string.Join(", ", statuses.Select(s => $"{(s.Key == 0 ? "no answer" : s.Key)} × {s.Value}")));
        foreach (var (variantClass, buckets) in classes)
        {
            TestContext.Out.WriteLine($"  {variantClass,-10} {string.Join(", ", buckets.Select(b => $"{b.Key} × {b.Value}"))}");
        }

        // An operation that accepted nothing was only attacked at its binding and validation, not behind them.
        TestContext.Out.WriteLine("Accepted no variant: " + string.Join(", ", operations.Where(o => !accepted.Contains(o))));
        var slowest = time.OrderByDescending(t => t.Value).Take(5).Select(t => $"{t.Key} {t.Value.TotalSeconds:F1} s");
        TestContext.Out.WriteLine("Slowest: " + string.Join(", ", slowest));
        foreach (var failure in failures)
        {
            TestContext.Out.WriteLine("FAIL " + failure);
        }

        Assert.Multiple(() =>
        {
            Assert.That(operations, Has.Count.GreaterThan(40), "operations in /openapi/v1.json");
            Assert.That(failures, Is.Empty, string.Join(Environment.NewLine, failures.Take(60)));
        });
    }

    /// <summary>Starts a workflow through the API; its id.</summary>
    private static async Task<string> StartAsync(HttpClient client, string path, object body)
    {
        var response = await client.PostAsJsonAsync(path, body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), $"{path}: {await response.Content.ReadAsStringAsync()}");
        return response.Headers.Location!.ToString().Split('/')[^1];
    }

    private static bool NamesAJob(string problem)
    {
        try
        {
            return JsonNode.Parse(problem) is JsonObject root
                && root["jobId"] is JsonValue id && id.GetValueKind() == System.Text.Json.JsonValueKind.String;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    /// <summary>A client of the Kestrel host that sends header values byte for byte (Latin-1), so invalid UTF-8 can be sent.</summary>
    private static HttpClient Client(FormanovaFactory factory)
    {
        using var probe = factory.CreateClient();
        Assert.That(IPAddress.IsLoopback(IPAddress.Parse(probe.BaseAddress!.Host)), Is.True, $"the host listens on {probe.BaseAddress}");
        var client = new HttpClient(new SocketsHttpHandler { RequestHeaderEncodingSelector = (_, _) => Encoding.Latin1 })
        {
            BaseAddress = probe.BaseAddress,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        client.DefaultRequestHeaders.Authorization
            = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", FormanovaFactory.AdminKey);
        return client;
    }

    /// <summary>
    /// Existing things for the parts of a request that are not attacked: a dataset, a webhook with a delivery, an
    /// event, a paused job, a training run waiting for approval, a batch job and a promotion.
    /// </summary>
    private static async Task<HostileFixtures> FixturesAsync(IServiceProvider services, HttpClient client)
    {
        var dataset = await WorkflowDatasets.ChurnAsync(services, 40, name: "fuzz-churn");
        var webhooks = services.GetRequiredService<IEventWebhooksModule>();
        var webhook = await webhooks.CreateWebhookAsync(new CreateWebhookRequest("http://127.0.0.1:9/fuzz-hook", ["FUZZ_FIXTURE"]));
        var published = await services.GetRequiredService<IEventModule>().PublishAsync(
            new PublishEventRequest("FUZZ_FIXTURE", "/fuzz", System.Text.Json.JsonSerializer.SerializeToElement(new { k = "v" })));
        long delivery = 0;
        await WorkflowTestKit.UntilAsync(async () =>
        {
            delivery = (await webhooks.ListDeliveriesAsync(webhook.Webhook.Id, null, 1)) is [var first, ..] ? first.Id : 0;
            return delivery > 0;
        }, TimeSpan.FromSeconds(30), "the fixture event's webhook delivery");

        var row = System.Text.Json.JsonSerializer.SerializeToNode(WorkflowTestKit.ValidInput())!.AsObject();
        var job = await StartAsync(client, "/api/v1/jobs", new
        {
            model = WorkflowTestKit.DemoModel,
            inputs = WorkflowTestKit.ValidInput(),
            startPaused = true,
        });
        var training = await StartAsync(client, "/api/v1/training-runs", new
        {
            model = WorkflowTestKit.DemoModel,
            version = "1.1.0",
            task = "binaryClassification",
            datasetId = dataset,
            requireApproval = true,
        });
        var batch = await StartAsync(client, "/api/v1/batch-jobs", new { model = WorkflowTestKit.DemoModel, datasetId = dataset });
        var promotion = await StartAsync(client, $"/api/v1/models/{WorkflowTestKit.DemoModel}/versions/1.0.0/promote", new { });
        Assert.That(await SettleAsync(services), Is.True, "the fixture workflows settle");

        var documentRow = new JsonObject { ["customer_id"] = "fuzz-1" };
        foreach (var (key, value) in row)
        {
            documentRow[key] = value?.DeepClone();
        }

        documentRow["churned"] = false;
        return new HostileFixtures(
            new Dictionary<string, string>
            {
                ["models"] = WorkflowTestKit.DemoModel,
                ["versions"] = "1.0.0",
                ["aliases"] = "fuzz-alias",
                ["datasets"] = dataset.ToString(CultureInfo.InvariantCulture),
                ["entities"] = "c0",
                ["webhooks"] = webhook.Webhook.Id.ToString(CultureInfo.InvariantCulture),
                ["events"] = published.Event.Id,
                ["deliveries"] = delivery.ToString(CultureInfo.InvariantCulture),
                ["jobs"] = job,
                ["training-runs"] = training,
                ["batch-jobs"] = batch,
                ["promotions"] = promotion,
            },
            new Dictionary<string, JsonNode>
            {
                ["model"] = WorkflowTestKit.DemoModel,
                ["SetAliasBody.version"] = "1.0.0",
                ["TrainingRunBody.version"] = "2.0.0",
                ["TrainingRunBody.task"] = "binaryClassification",
                ["datasetId"] = dataset,
                ["entityId"] = "c0",
                ["inputs"] = row.DeepClone(),
                ["rows"] = new JsonArray(row.DeepClone()),
                ["smokeInputs"] = new JsonArray(row.DeepClone()),
                ["url"] = "http://127.0.0.1:9/fuzz-hook",
                ["eventTypes"] = new JsonArray("FUZZ_FIXTURE"),
                ["source"] = "/fuzz",
                ["type"] = "FUZZ_FIXTURE",
                ["data"] = new JsonObject { ["k"] = "v" },
                ["scopes"] = new JsonArray("read"),
                ["afterSequence"] = 0,
                ["transforms"] = new JsonArray(new JsonObject { ["op"] = "fill", ["column"] = "age", ["fill"] = "mean" }),
            },
            row,
            documentRow);
    }

    /// <summary>The stored state, plus how many workflows were ever started: a rejected request starts none.</summary>
    private static async Task<Dictionary<string, string>> StateAsync(IServiceProvider services)
    {
        var state = await HostileRequests.SnapshotAsync(services);
        var count = await services.GetRequiredService<ITemporalClient>().CountWorkflowsAsync("");
        state["workflows"] = count.Count.ToString(CultureInfo.InvariantCulture);
        return state;
    }

    /// <summary>
    /// Waits until every running workflow is waiting (for a signal or a timer): no workflow task and no activity
    /// pending. False if that does not happen within <see cref="SettleTimeout"/>.
    /// </summary>
    private static async Task<bool> SettleAsync(IServiceProvider services)
    {
        var temporal = services.GetRequiredService<ITemporalClient>();
        var deadline = DateTime.UtcNow + SettleTimeout;
        while (DateTime.UtcNow < deadline)
        {
            var busy = false;
            await foreach (var execution in temporal.ListWorkflowsAsync("ExecutionStatus = 'Running'"))
            {
                var description = await temporal.WorkflowService.DescribeWorkflowExecutionAsync(
                    new()
                    {
                        Namespace = temporal.Options.Namespace,
                        Execution = new() { WorkflowId = execution.Id, RunId = execution.RunId }
                    });
                if (description.PendingActivities.Count > 0 || description.PendingWorkflowTask is not null)
                {
                    busy = true;
                    break;
                }
            }

            if (!busy)
            {
                return true;
            }

            await Task.Delay(20);
        }

        return false;
    }
}
