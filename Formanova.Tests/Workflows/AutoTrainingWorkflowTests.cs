using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Model;
using Microsoft.Extensions.DependencyInjection;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

[Category("Integration")]
public sealed class AutoTrainingWorkflowTests
{
    private static object Run(long datasetId, string version, string? selectionMetric = null, double? timeBudgetSeconds = 600) => new
    {
        model = "churn-auto",
        version,
        task = "binaryClassification",
        datasetId,
        trainer = "auto",
        selectionMetric,
        timeBudgetSeconds,
    };

    private static JsonArray Leaderboard(JsonObject node) => node["auto"]!["leaderboard"]!.AsArray();

    [Test]
    public async Task TrainingRuns_WhenTheTrainerIsAuto_RegisterTheBestCandidateWithItsHyperparametersAndKeepTheLeaderboard()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 300);

        var response = await client.PostAsJsonAsync("/api/v1/training-runs", Run(dataset, "1.0.0"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var location = response.Headers.Location!.ToString();
        var run = await PollAsync(client, location, r => Status(r) is "completed" or "failed", TimeSpan.FromSeconds(240));

        Assert.That(Status(run), Is.EqualTo("completed"), run.ToJsonString());
        var result = run["result"]!.AsObject();
        var leaderboard = Leaderboard(result);
        var scores = leaderboard.Select(c => (double)c!["score"]!).ToList();
        var winner = result["auto"]!["winner"]!;
        var version = await factory.Services.GetRequiredService<IModelModule>().GetVersionAsync("churn-auto", "1.0.0");
        Assert.Multiple(() =>
        {
            Assert.That((string?)result["auto"]!["metric"], Is.EqualTo("auc"));
            Assert.That(leaderboard, Has.Count.EqualTo(9));
            Assert.That(leaderboard.Select(c => (string?)c!["status"]), Is.All.EqualTo("completed"));
            Assert.That(scores, Is.Ordered.Descending);
            Assert.That(leaderboard[0]!.ToJsonString(), Is.EqualTo(winner.ToJsonString()));
            Assert.That(version.Trainer, Is.EqualTo((string?)winner["trainer"]));
            Assert.That(
                JsonSerializer.Deserialize<Dictionary<string, double>>(version.Tags["hyperparameters"]),
                Is.EqualTo(winner["hyperparameters"].Deserialize<Dictionary<string, double>>()));
            Assert.That(version.Metrics.ContainsKey("auc"), Is.True, "the winner is evaluated on the held-out test rows");
        });
    }

    [Test]
    public async Task TrainingRuns_WhenTheSelectionMetricIsUnknownOrNotForAuto_Return400BeforeAnyRunStarts()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 50);

        var unknown = await client.PostAsJsonAsync("/api/v1/training-runs", Run(dataset, "1.0.0", selectionMetric: "rmse"));
        var notAuto = await client.PostAsJsonAsync(
            "/api/v1/training-runs",
            new { model = "churn-auto", version = "1.0.0", task = "binaryClassification", datasetId = dataset, selectionMetric = "auc" });
        var tooLong = await client.PostAsJsonAsync("/api/v1/training-runs", Run(dataset, "1.0.0", timeBudgetSeconds: 1e6));
        var runs = await ReadAsync(await client.GetAsync("/api/v1/jobs?type=training"));

        Assert.Multiple(async () =>
        {
            Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await unknown.Content.ReadAsStringAsync());
            Assert.That((await ReadAsync(unknown))["errors"]!["selectionMetric"], Is.Not.Null);
            Assert.That((await ReadAsync(notAuto))["errors"]!["selectionMetric"], Is.Not.Null);
            Assert.That((await ReadAsync(tooLong))["errors"]!["timeBudgetSeconds"], Is.Not.Null);
            Assert.That(runs["items"]!.AsArray(), Is.Empty, "no workflow was started");
        });
    }

    [Test]
    public async Task TrainingRuns_WhenTheHostIsKilledMidSearch_ResumeWithoutRepeatingFinishedCandidates()
    {
        var crashed = false;
        var starts = new List<string>();
        var faults = new FaultyModelModule
        {
            // In the first host the first three candidates run; the next ones hang (no heartbeat) until the crash.
            Before = (op, candidate, count, ct) =>
            {
                if (op != "evaluate")
                {
                    return Task.CompletedTask;
                }

                lock (starts)
                {
                    starts.Add(candidate!);
                }

                return !crashed && count > 3 ? Task.Delay(Timeout.Infinite, ct) : Task.CompletedTask;
            },
        };
        using var state = new PersistedState(("Workflows:Training:HeartbeatTimeoutSeconds", "3"));
        string location;
        var first = state.Start(faults);
        try
        {
            var client = await ClientAsync(first);
            var dataset = await WorkflowDatasets.ChurnAsync(first.Services, 300);
            var response = await client.PostAsJsonAsync("/api/v1/training-runs", Run(dataset, "2.0.0"));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
            location = response.Headers.Location!.ToString();
            await PollAsync(
                client,
                location,
                r => r["progress"]?["auto"] is JsonObject
                    && Leaderboard(r["progress"]!.AsObject()).Count(c => (string?)c!["status"] == "completed") == 3,
                TimeSpan.FromSeconds(120),
                "three finished candidates");
            await UntilAsync(() => Task.FromResult(faults.Calls("evaluate") >= 5), TimeSpan.FromSeconds(30), "two candidates to hang");
        }
        finally
        {
            crashed = true;
            first.Dispose();
        }

        List<string> finishedBeforeCrash, hungInCrash;
        lock (starts)
        {
            (finishedBeforeCrash, hungInCrash) = ([.. starts.Take(3)], [.. starts.Skip(3)]);
        }

        using var second = state.Start(faults);
        var run = await PollAsync(second.CreateClient(), location, r => Status(r) is "completed" or "failed", TimeSpan.FromSeconds(240));

        Assert.That(Status(run), Is.EqualTo("completed"), run.ToJsonString());
        Assert.Multiple(() =>
        {
            Assert.That(Leaderboard(run["result"]!.AsObject()).Select(c => (string?)c!["status"]), Is.All.EqualTo("completed"));
            Assert.That(finishedBeforeCrash.Select(c => starts.Count(s => s == c)), Is.All.EqualTo(1), "finished candidates ran once");
            Assert.That(hungInCrash.Select(c => starts.Count(s => s == c)), Is.All.EqualTo(2), "the attempts lost in the crash ran again");
            Assert.That(starts, Has.Count.EqualTo(9 + hungInCrash.Count));
        });
    }
}
