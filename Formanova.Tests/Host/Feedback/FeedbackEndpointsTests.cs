using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Host.Feedback;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;
using Microsoft.Extensions.DependencyInjection;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Host.Feedback;

/// <summary>
/// Feedback through the real host on each provider: every predict path's id is accepted, feedback is idempotent, a
/// different outcome is a 409, an entity key + time finds the right prediction, and a wrong-typed outcome is a 400.
/// </summary>
[Category("Integration")]
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class FeedbackEndpointsTests(DatabaseProvider provider)
{
    private HostedDatabase _host = null!;
    private HttpClient _client = null!;

    private PredictionLogWriter Log => _host.Factory.Services.GetRequiredService<PredictionLogWriter>();

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        // A write delay of a minute: a logged prediction reaches the database only when something flushes the log, as
        // the feedback endpoint must for a prediction that is still queued.
        _host = await HostedDatabase.StartAsync(
            provider,
            Settings(("PredictionLog:SampleRate", "0.5"), ("PredictionLog:WriteDelayMilliseconds", "60000")));
        _client = await ClientAsync(_host.Factory);
    }

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [Test]
    public async Task Feedback_ForEveryPredictPath_AcceptsItsPredictionId()
    {
        var ids = new List<string>();
        for (var attempt = 0; attempt < 40 && ids.Count < 2; attempt++)
        {
            // Half the ids are sampled: take two direct predictions the log kept.
            var direct = await OkAsync(await _client.PostAsJsonAsync($"/api/v1/models/{DemoModel}/predict", new { inputs = ValidInput() }));
            if (Log.Sampled((string)direct["predictionId"]!))
            {
                ids.Add((string)direct["predictionId"]!);
            }
        }

        var batch = await OkAsync(await _client.PostAsJsonAsync(
            $"/api/v1/models/{DemoModel}/predict/batch",
            new { rows = Enumerable.Repeat(ValidInput(), 8).ToList(), useCache = false }));
        var batchIds = batch["predictions"]!.AsArray().Select(p => (string)p!["predictionId"]!).ToList();
        Assert.That(batchIds, Is.Unique.And.All.Not.Null);
        ids.AddRange(batchIds.Where(Log.Sampled).Take(1));
        var sync = await OkAsync(await _client.PostAsJsonAsync("/api/v1/predictions", Body()));
        var submitted = await _client.PostAsJsonAsync("/api/v1/jobs", Body());
        var job = await PollAsync(_client, submitted.Headers.Location!.ToString(), j => Status(j) is "completed" or "failed");
        Assert.That(Status(job), Is.EqualTo("completed"), job.ToJsonString());
        var workflowIds = new[] { (string)sync["predictionId"]!, (string)job["result"]!["predictionId"]! };
        var dataset = await WorkflowDatasets.ChurnAsync(_host.Factory.Services, 20);
        var started = await _client.PostAsJsonAsync("/api/v1/batch-jobs", new { model = DemoModel, datasetId = dataset, chunkSize = 10 });
        var location = started.Headers.Location!.ToString();
        var batchJob = await PollAsync(_client, location, j => Status(j) is "completed" or "failed", TimeSpan.FromSeconds(120));
        Assert.That(Status(batchJob), Is.EqualTo("completed"), batchJob.ToJsonString());
        var rows = (await _client.GetStringAsync($"{location}/results")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var rowId = rows[3].Split(',')[^1].Trim('"');
        Assert.That(rowId, Does.StartWith(location.Split('/')[^1] + ":"));
        await Log.FlushAsync(CancellationToken.None);

        var items = ids.Concat(workflowIds.Where(Log.Sampled)).Append(rowId).Select(id => new { predictionId = id, outcome = "true" });
        var answer = await OkAsync(await _client.PostAsJsonAsync("/api/v1/feedback", new { items }));

        Assert.That(ids, Has.Count.EqualTo(3), "two direct predictions and one of a batch were sampled");
        Assert.That(answer["items"]!.AsArray().Select(i => (string)i!["status"]!), Is.All.EqualTo("recorded"), answer.ToJsonString());
        Assert.That(
            answer["items"]!.AsArray().Select(i => (string)i!["predictionId"]!),
            Is.EqualTo(items.Select(i => i.predictionId)),
            "each item matched the prediction it named");
        var unsampled = workflowIds.Concat(batchIds).Where(id => !Log.Sampled(id)).Take(1)
            .Select(id => new { predictionId = id, outcome = "true" });
        var left = await OkAsync(await _client.PostAsJsonAsync("/api/v1/feedback", new { items = unsampled }));
        Assert.That(left["items"]!.AsArray().Select(i => (string)i!["status"]!), Is.All.EqualTo("notSampled"));
    }

    [Test]
    public async Task Feedback_WhenSentAgain_IsUnchangedAndADifferentOutcomeIsAConflict()
    {
        var id = await LoggedPredictionAsync();
        var first = await OkAsync(await FeedbackAsync(new { predictionId = id, outcome = true }));
        var again = await OkAsync(await FeedbackAsync(
            new { predictionId = id, outcome = "true" },
            new { predictionId = "nope", outcome = "x" }));
        var conflict = await FeedbackAsync(new { predictionId = id, outcome = "false" });

        Assert.Multiple(async () =>
        {
            Assert.That((string?)first["items"]![0]!["status"], Is.EqualTo("recorded"));
            Assert.That((string?)again["items"]![0]!["status"], Is.EqualTo("unchanged"), "a boolean true is the class true");
            Assert.That((string?)again["items"]![1]!["status"], Is.EqualTo("unknown"));
            Assert.That((int?)again["notMatched"], Is.EqualTo(1));
            Assert.That(conflict.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
            Assert.That((await ReadAsync(conflict))["errors"]!.AsObject().Select(e => e.Key), Is.EqualTo(new[] { "items[0].outcome" }));
        });
    }

    [Test]
    public async Task Feedback_WhenTheOutcomeHasTheWrongType_Is400NamingIt()
    {
        var id = await LoggedPredictionAsync();

        var response = await FeedbackAsync(new { predictionId = id, outcome = "true" }, new { predictionId = id, outcome = 1.5 });
        var malformed = await FeedbackAsync(new { predictionId = id, outcome = new[] { 1 } });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ReadAsync(response))["errors"]!.AsObject().Select(e => e.Key), Is.EqualTo(new[] { "items[1].outcome" }));
        Assert.That(malformed.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ReadAsync(malformed))["errors"]!.AsObject().Select(e => e.Key), Does.Contain("items[0].outcome"));
        var after = await OkAsync(await FeedbackAsync(new { predictionId = id, outcome = "false" }));
        Assert.That((string?)after["items"]![0]!["status"], Is.EqualTo("recorded"), "the refused request stored nothing");
    }

    [Test]
    public async Task Feedback_ByEntityAndTime_MatchesTheEntitysLatestPredictionAtOrBeforeIt()
    {
        var entity = $"customer-{Guid.NewGuid():N}";
        var earlier = await LoggedPredictionAsync(entity);
        var between = DateTimeOffset.UtcNow;
        var later = await LoggedPredictionAsync(entity);

        var byTime = await OkAsync(await FeedbackAsync(
            new { model = DemoModel.ToUpperInvariant(), entityId = entity, at = between, outcome = "true" }));
        var latest = await OkAsync(await FeedbackAsync(new { model = DemoModel, entityId = entity, outcome = "false" }));
        var before = await OkAsync(await FeedbackAsync(
            new { model = DemoModel, entityId = entity, at = between.AddDays(-1), outcome = "true" }));

        Assert.Multiple(() =>
        {
            Assert.That((string?)byTime["items"]![0]!["predictionId"], Is.EqualTo(earlier));
            Assert.That((string?)latest["items"]![0]!["predictionId"], Is.EqualTo(later));
            Assert.That((string?)before["items"]![0]!["status"], Is.EqualTo("unknown"));
        });
    }

    [Test]
    public async Task Feedback_WhenItsPredictionIsStillQueued_WritesTheLogFirstAndRecordsIt()
    {
        var entity = $"customer-{Guid.NewGuid():N}";
        var byId = await SampledPredictionAsync(null);
        var byEntity = await SampledPredictionAsync(entity);

        var first = await OkAsync(await FeedbackAsync(new { predictionId = byId, outcome = "true" }));
        var second = await OkAsync(await FeedbackAsync(new { model = DemoModel, entityId = entity, outcome = "false" }));

        Assert.Multiple(() =>
        {
            Assert.That((string?)first["items"]![0]!["status"], Is.EqualTo("recorded"), first.ToJsonString());
            Assert.That((string?)second["items"]![0]!["status"], Is.EqualTo("recorded"), second.ToJsonString());
            Assert.That((string?)second["items"]![0]!["predictionId"], Is.EqualTo(byEntity));
        });
    }

    [Test]
    public async Task Outcomes_AfterFeedback_CountThePredictionsAndTheirFeedback()
    {
        var id = await LoggedPredictionAsync();
        await OkAsync(await FeedbackAsync(new { predictionId = id, outcome = "true" }));

        var summary = await OkAsync(await _client.GetAsync($"/api/v1/models/{DemoModel}/outcomes"));
        var unknown = await _client.GetAsync("/api/v1/models/no-such-model/outcomes");
        var inverted = await _client.GetAsync(
            $"/api/v1/models/{DemoModel}/outcomes?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z");

        var group = summary["groups"]!.AsArray().Single()!;
        Assert.Multiple(() =>
        {
            Assert.That((long)group["count"]!, Is.GreaterThanOrEqualTo(1));
            Assert.That((long)group["withFeedback"]!, Is.GreaterThanOrEqualTo(1));
            Assert.That((string?)group["task"], Is.EqualTo("binaryClassification"));
            Assert.That((double?)group["accuracy"], Is.Not.Null);
            Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(inverted.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        });
    }

    [Test]
    public async Task Predict_WhenTheEntityIdBreaksItsRules_Is400NamingIt()
    {
        var response = await _client.PostAsJsonAsync(
            $"/api/v1/models/{DemoModel}/predict",
            new { inputs = ValidInput(), entityId = "has spaces" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ReadAsync(response))["errors"]!.AsObject().Select(e => e.Key), Is.EqualTo(new[] { "entityId" }));
    }

    /// <summary>A direct prediction the log kept (written by the time this returns).</summary>
    private async Task<string> LoggedPredictionAsync(string? entityId = null)
    {
        var id = await SampledPredictionAsync(entityId);
        await Log.FlushAsync(CancellationToken.None);
        return id;
    }

    /// <summary>A direct prediction the log kept, perhaps still queued for the writer.</summary>
    private async Task<string> SampledPredictionAsync(string? entityId)
    {
        while (true)
        {
            var body = await OkAsync(await _client.PostAsJsonAsync(
                $"/api/v1/models/{DemoModel}/predict",
                new { inputs = ValidInput(), entityId }));
            var id = (string)body["predictionId"]!;
            if (Log.Sampled(id))
            {
                return id;
            }
        }
    }

    private Task<HttpResponseMessage> FeedbackAsync(params object[] items) =>
        _client.PostAsJsonAsync("/api/v1/feedback", new { items });

    private static async Task<JsonObject> OkAsync(HttpResponseMessage response)
    {
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await ReadAsync(response);
    }
}
