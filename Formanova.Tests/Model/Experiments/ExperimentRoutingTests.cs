using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Host.Feedback;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Experiments;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Model.Experiments;

/// <summary>
/// Routing through the real host and <c>POST /api/v1/models/{name}/predict</c> on each provider: a split answer names
/// its experiment and arm and is logged with them, a batch routes each row, shadow mode answers exactly as the
/// control would while the candidate's copy is logged and scored by the served prediction's feedback, and pausing
/// stops the routing.
/// </summary>
[Category("Integration")]
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class ExperimentRoutingTests(DatabaseProvider provider)
{
    private TestDatabase _db = null!;
    private FormanovaFactory _host = null!;
    private HttpClient _client = null!;
    private int _models;

    private IExperimentModule Experiments => _host.Services.GetRequiredService<IExperimentModule>();

    private PredictionLogWriter Log => _host.Services.GetRequiredService<PredictionLogWriter>();

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _db = await TestDatabase.CreateAsync(provider);
        _host = ExperimentHost.Start(_db);
        _client = _host.CreateClient();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _client.Dispose();
        await _host.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Test]
    public async Task Predict_WhenASplitRuns_AnswersFromTheEntitysArmAndLogsIt()
    {
        var model = await ModelAsync();
        await Experiments.CreateAsync(ExperimentHost.Request($"{model}-split", model));

        var answers = new List<JsonObject>();
        for (var i = 0; i < 30; i++)
        {
            answers.Add(await PredictAsync(model, new { inputs = ModelTestKit.Input(i), entityId = $"e{i % 10}" }));
        }

        var summary = await SummaryAsync(model);
        Assert.Multiple(() =>
        {
            Assert.That(answers.Select(a => (string?)a["experiment"]), Is.All.EqualTo($"{model}-split"));
            Assert.That(
                answers.Select(a => ((string?)a["arm"], (string?)a["version"])),
                Is.All.Matches<(string?, string?)>(a => a is ("control", "1.0.0") or ("candidate", "1.1.0")));
            for (var e = 0; e < 10; e++)
            {
                var arms = answers.Where((_, i) => i % 10 == e).Select(a => (string?)a["arm"]).Distinct();
                Assert.That(arms.Count(), Is.EqualTo(1), $"entity e{e} stays on its arm");
            }

            foreach (var arm in new[] { "control", "candidate" })
            {
                Assert.That(
                    summary.Groups.Where(g => g.Experiment == $"{model}-split" && g.Arm == arm).Sum(g => g.Count),
                    Is.EqualTo(answers.Count(a => (string?)a["arm"] == arm)),
                    $"the log's {arm} rows");
            }
        });
    }

    [Test]
    public async Task PredictBatch_WhenASplitRuns_RoutesEachRowAndKeepsTheOrder()
    {
        var model = await ModelAsync();
        await Experiments.CreateAsync(ExperimentHost.Request($"{model}-batch", model));
        var entities = Enumerable.Range(0, 40).Select(i => $"row-{i}").ToList();
        var expected = RoutedExperiment.From(await Experiments.GetAsync($"{model}-batch"));

        var response = await _client.PostAsJsonAsync(
            $"/api/v1/models/{model}/predict/batch",
            new { rows = entities.Select((_, i) => ModelTestKit.Input(i)).ToList(), entityIds = entities });
        var bad = await _client.PostAsJsonAsync(
            $"/api/v1/models/{model}/predict/batch",
            new
            {
                rows = new object[] { ModelTestKit.Input(0), ModelTestKit.Input(1), new { tenure_months = "x" } },
                entityIds = entities.Take(3),
            });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var predictions = (await response.Content.ReadFromJsonAsync<JsonObject>())!["predictions"]!.AsArray();
        Assert.Multiple(async () =>
        {
            Assert.That(predictions.Select(p => (string?)p!["arm"]), Is.EqualTo(entities.Select(e => expected.Route(e).Name)));
            Assert.That(
                predictions.Select(p => (string?)p!["version"]),
                Is.EqualTo(entities.Select(e => expected.Route(e).Version)));
            Assert.That(predictions.Select(p => (string?)p!["arm"]).Distinct().Count(), Is.EqualTo(2), "both arms served rows");
            Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            var errors = (await bad.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsObject().Select(e => e.Key);
            Assert.That(errors, Is.Not.Empty.And.All.StartsWith("rows[2]"), "the refused row is named by its index in the request");
        });
    }

    [Test]
    public async Task Predict_WhenAShadowRuns_AnswersAsTheControlAndFeedbackScoresTheLoggedShadow()
    {
        var model = await ModelAsync();
        var body = new { inputs = ModelTestKit.Input(3), useCache = false, entityId = "shadowed" };
        var without = await PredictAsync(model, body);
        await Experiments.CreateAsync(ExperimentHost.Request($"{model}-shadow", model) with { Mode = ExperimentMode.Shadow });

        var served = await PredictAsync(model, body);
        await _host.Services.GetRequiredService<ShadowQueue>().DrainAsync(CancellationToken.None);
        await Log.FlushAsync(CancellationToken.None);
        var feedback = await _client.PostAsJsonAsync(
            "/api/v1/feedback",
            new { items = new[] { new { predictionId = (string)served["predictionId"]!, outcome = "true" } } });
        var summary = await SummaryAsync(model);

        Assert.That(feedback.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var shadow = summary.Groups.Single(g => g.Arm == "candidate");
        var control = summary.Groups.Single(g => g.Arm == "control");
        Assert.Multiple(() =>
        {
            Assert.That(Fields(served), Is.EqualTo(Fields(without)), "the answer has the same fields as with no experiment");
            foreach (var field in Fields(without).Except(["predictionId", "latencyMs"]))
            {
                Assert.That(served[field]?.ToJsonString(), Is.EqualTo(without[field]?.ToJsonString()), field);
            }

            Assert.That((shadow.Version, shadow.Experiment, shadow.Count), Is.EqualTo(("1.1.0", $"{model}-shadow", 1L)));
            Assert.That(shadow.WithFeedback, Is.EqualTo(1), "the served prediction's feedback scored its shadow copy");
            Assert.That((control.Version, control.Count, control.WithFeedback), Is.EqualTo(("1.0.0", 1L, 1L)));
        });
    }

    [Test]
    public async Task Predict_WhenTheExperimentIsPaused_IsNotRoutedUntilResumed()
    {
        var model = await ModelAsync();
        var name = $"{model}-paused";
        var allToCandidate = ExperimentHost.Request(name, model, new("control", "1.0.0", Weight: 0), new("candidate", "1.1.0"));
        await Experiments.CreateAsync(allToCandidate);
        var routed = await PredictAsync(model, new { inputs = ModelTestKit.Input(1) });

        await Experiments.SetStatusAsync(name, ExperimentStatus.Paused, reason: "checking");
        var paused = await PredictAsync(model, new { inputs = ModelTestKit.Input(1) });
        await Experiments.SetStatusAsync(name, ExperimentStatus.Running);
        var resumed = await PredictAsync(model, new { inputs = ModelTestKit.Input(1) });
        var pinned = await PredictAsync(model, new { inputs = ModelTestKit.Input(1), version = "1.0.0" });
        await Experiments.SetStatusAsync(name, ExperimentStatus.Stopped);
        var stopped = await PredictAsync(model, new { inputs = ModelTestKit.Input(1) });

        Assert.Multiple(() =>
        {
            Assert.That(((string?)routed["arm"], (string?)routed["version"]), Is.EqualTo(("candidate", "1.1.0")));
            Assert.That(paused.ContainsKey("experiment") || paused.ContainsKey("arm"), Is.False, paused.ToJsonString());
            Assert.That((string?)paused["version"], Is.EqualTo("1.0.0"), "the active version serves a paused experiment's model");
            Assert.That((string?)resumed["arm"], Is.EqualTo("candidate"));
            Assert.That(((string?)pinned["version"], pinned.ContainsKey("arm")), Is.EqualTo(("1.0.0", false)), "pinned: not routed");
            Assert.That(((string?)stopped["version"], stopped.ContainsKey("arm")), Is.EqualTo(("1.0.0", false)));
        });
    }

    [Test]
    public async Task PredictBatch_WhenAShadowRuns_AnswersAsTheControlAndLogsACopyPerRow()
    {
        var model = await ModelAsync();
        await Experiments.CreateAsync(ExperimentHost.Request($"{model}-batch-shadow", model) with { Mode = ExperimentMode.Shadow });

        var response = await _client.PostAsJsonAsync(
            $"/api/v1/models/{model}/predict/batch",
            new { rows = Enumerable.Range(0, 6).Select(i => ModelTestKit.Input(i)).ToList() });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var predictions = (await response.Content.ReadFromJsonAsync<JsonObject>())!["predictions"]!.AsArray();
        await _host.Services.GetRequiredService<ShadowQueue>().DrainAsync(CancellationToken.None);
        var summary = await SummaryAsync(model);

        Assert.Multiple(() =>
        {
            Assert.That(predictions.Select(p => (string?)p!["version"]), Is.All.EqualTo("1.0.0"));
            Assert.That(predictions.Select(p => p!.AsObject().ContainsKey("arm")), Is.All.False);
            Assert.That(summary.Groups.Single(g => g.Arm == "control").Count, Is.EqualTo(6));
            Assert.That(summary.Groups.Single(g => g.Arm == "candidate").Count, Is.EqualTo(6), "one copy per row at weight 1");
        });
    }

    [Test]
    public async Task Predict_OnAnotherReplica_FollowsAPauseWithinTheRefreshInterval()
    {
        var model = await ModelAsync();
        var name = $"{model}-replicas";
        await Experiments.CreateAsync(ExperimentHost.Request(name, model, new("control", "1.0.0", Weight: 0), new("candidate", "1.1.0")));
        await using var replica = ExperimentHost.Start(_db, ("Model:Inference:RegistryRefreshSeconds", "1"));
        using var client = replica.CreateClient();
        var before = await PredictAsync(client, model, new { inputs = ModelTestKit.Input(1) });

        await Experiments.SetStatusAsync(name, ExperimentStatus.Paused);

        await WorkflowTestKit.UntilAsync(
            async () => !(await PredictAsync(client, model, new { inputs = ModelTestKit.Input(1) })).ContainsKey("arm"),
            TimeSpan.FromSeconds(15),
            "the replica to stop routing");
        Assert.That((string?)before["arm"], Is.EqualTo("candidate"), "the replica routed while the experiment ran");
    }

    private static IEnumerable<string> Fields(JsonObject answer) => answer.Select(p => p.Key).Order(StringComparer.Ordinal);

    /// <summary>A new model of its own, so each test's experiment is the only live one on it: 1.0.0 active and 1.1.0.</summary>
    private async Task<string> ModelAsync()
    {
        var model = $"routed-{Interlocked.Increment(ref _models)}";
        await ExperimentHost.TrainAsync(_host, model, "1.0.0", "1.1.0");
        return model;
    }

    private Task<JsonObject> PredictAsync(string model, object body) => PredictAsync(_client, model, body);

    private static async Task<JsonObject> PredictAsync(HttpClient client, string model, object body)
    {
        var response = await client.PostAsJsonAsync($"/api/v1/models/{model}/predict", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    private async Task<OutcomeSummary> SummaryAsync(string model)
    {
        await Log.FlushAsync(CancellationToken.None);
        return await _host.Services.GetRequiredService<IDataModule>().SummarizeOutcomesAsync(
            model, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddMinutes(1));
    }
}
