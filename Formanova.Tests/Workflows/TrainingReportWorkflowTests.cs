using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Model.Training;
using Formanova.Tests.Support;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

/// <summary>The training report through the real API and training workflow, on each database provider.</summary>
[Category("Integration")]
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class TrainingReportWorkflowTests(DatabaseProvider provider)
{
    /// <summary>Database, model files and Temporal histories all under the test database's folder, so a second host sees them.</summary>
    private static Dictionary<string, string?> HostSettings(TestDatabase database) => new(
        Settings(
            ("Temporal:Embedded:StoragePath", Path.Combine(database.DataDirectory, "temporal.db")),
            ("Model:Bootstrap:Enabled", "false"))
        .Concat(database.Settings));

    private static async Task<JsonObject> RunAsync(HttpClient client, object body)
    {
        var response = await client.PostAsJsonAsync("/api/v1/training-runs", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var location = response.Headers.Location!.ToString();
        return await PollAsync(client, location, r => Status(r) is "completed" or "failed", TimeSpan.FromSeconds(180));
    }

    [Test]
    public async Task TrainingRuns_OnAnUnbalancedWeatherTable_KeepTheReportOnTheRunAndTheVersionAcrossARestart()
    {
        await using var database = await TestDatabase.CreateAsync(provider);
        var settings = HostSettings(database);
        string runId;
        JsonNode report;
        using (var first = new FormanovaFactory(settings))
        {
            var client = first.CreateClient();
            var dataset = await ReportFixtures.WeatherDatasetAsync(first.Services, 1200, seed: 3);

            var run = await RunAsync(
                client,
                new { model = "weather", version = "1.0.0", task = "multiclassClassification", datasetId = dataset });

            Assert.That(Status(run), Is.EqualTo("completed"), run.ToJsonString());
            runId = (string)run["id"]!;
            report = run["report"]!;
            var version = await ReadAsync(await client.GetAsync("/api/v1/models/weather/versions/1.0.0"));
            var listed = await ReadAsync(await client.GetAsync("/api/v1/models/weather"));
            var perClass = report["classification"]!["perClass"]!.AsArray().ToDictionary(c => (string)c!["class"]!, c => c!);
            var columns = report["columns"]!.AsArray().Select(c => ((string?)c!["name"], (string?)c["use"], (string?)c["derivedFrom"]))
                .ToList();
            Assert.Multiple(() =>
            {
                Assert.That(report["classification"]!["neverPredicted"]!.AsArray().Select(c => (string?)c), Does.Contain("fog"));
                Assert.That((double)perClass["fog"]["recall"]!, Is.Zero);
                Assert.That((long)perClass["fog"]["support"]!, Is.GreaterThan(0));
                Assert.That(
                    (double)report["classification"]!["macroAccuracy"]!,
                    Is.LessThan((double)report["classification"]!["microAccuracy"]!));
                Assert.That(report["classification"]!["confusionMatrix"]!["classes"]!.AsArray(), Has.Count.EqualTo(5));
                Assert.That(columns, Does.Contain(("id", "ignored", (string?)null)));
                Assert.That(columns, Does.Contain(("Date.month", "derived", (string?)"Date")), "the date column's parts are features");
                Assert.That(columns, Does.Contain(("Precipitation (mm)", "feature", (string?)null)));
                Assert.That((long)report["rows"]!["train"]! + (long)report["rows"]!["test"]!, Is.EqualTo(1200));
                Assert.That(
                    report["importance"]!["features"]!.AsArray().Count,
                    Is.EqualTo(columns.Count(c => c.Item2 is "feature" or "derived")),
                    "every feature, date parts included, has an importance");
                Assert.That((string?)report["trainer"], Is.EqualTo("SdcaMaximumEntropy"));
                Assert.That(JsonNode.DeepEquals(version["report"], report), Is.True, "the version and the run show one report");
                Assert.That(listed["versions"]![0]!.AsObject().ContainsKey("report"), Is.False, "lists stay light");
            });
        }

        using var second = new FormanovaFactory(settings);
        var restarted = second.CreateClient();
        var runAfter = await ReadAsync(await restarted.GetAsync($"/api/v1/training-runs/{runId}"));
        var versionAfter = await ReadAsync(await restarted.GetAsync("/api/v1/models/weather/versions/1.0.0"));

        Assert.Multiple(() =>
        {
            Assert.That(Status(runAfter), Is.EqualTo("completed"));
            Assert.That(JsonNode.DeepEquals(runAfter["report"], report), Is.True, runAfter.ToJsonString());
            Assert.That(JsonNode.DeepEquals(versionAfter["report"], report), Is.True, versionAfter.ToJsonString());
        });
    }

    [Test]
    public async Task TrainingRuns_OnRegressionWithNullLabels_ReportSkippedRowsAndStillExplainAFailedValidation()
    {
        await using var database = await TestDatabase.CreateAsync(provider);
        using var factory = new FormanovaFactory(HostSettings(database));
        var client = factory.CreateClient();
        var dataset = await ReportFixtures.MileageDatasetAsync(factory.Services, 500, seed: 2, nullEvery: 10);

        var run = await RunAsync(client, new
        {
            model = "mileage",
            version = "1.0.0",
            task = "regression",
            datasetId = dataset,
            maxMetrics = new { rmse = 0.001 },
        });

        Assert.That(Status(run), Is.EqualTo("failed"), run.ToJsonString());
        var report = run["report"]!;
        var residuals = report["regression"]!["residuals"]!;
        Assert.Multiple(() =>
        {
            Assert.That((string?)run["error"], Does.Contain("rmse"));
            Assert.That((long)report["rows"]!["skippedByReason"]!["noLabel"]!, Is.EqualTo(50));
            Assert.That((long)report["rows"]!["read"]!, Is.EqualTo(500));
            Assert.That((double)report["regression"]!["rmse"]!, Is.GreaterThan(0.001), "the figure that failed validation");
            Assert.That((double)residuals["p5"]!, Is.LessThanOrEqualTo((double)residuals["p95"]!));
            Assert.That((long)report["balance"]!["train"]!["count"]!, Is.EqualTo((long)report["rows"]!["train"]!));
            Assert.That((string?)report["hyperparameters"]!["NumberOfTrees"], Is.EqualTo("100"));
        });
    }
}
