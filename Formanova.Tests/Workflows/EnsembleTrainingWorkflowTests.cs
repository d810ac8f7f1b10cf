using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Model;
using Formanova.Tests.Model.Training;
using Formanova.Tests.Support;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

/// <summary>
/// Ensembles trained by the real training workflow, on each database provider: members are trained by runs on one
/// dataset, each on half of the features (<see cref="EnsembleFixtures"/>), and ensembles of them by runs on another.
/// </summary>
[Category("Integration")]
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class EnsembleTrainingWorkflowTests(DatabaseProvider provider)
{
    private static async Task<JsonObject> RunAsync(HttpClient client, object body)
    {
        var response = await client.PostAsJsonAsync("/api/v1/training-runs", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        return await PollAsync(
            client,
            response.Headers.Location!.ToString(),
            r => Status(r) is "completed" or "failed",
            TimeSpan.FromSeconds(180));
    }

    private static Dictionary<string, double> Figures(JsonNode metrics) =>
        metrics.AsObject().ToDictionary(m => m.Key, m => (double)m.Value!);

    [Test]
    public async Task TrainingRuns_WithAnEnsemble_BeatTheirBestMemberOnHeldOutRowsAndReportEachMember()
    {
        await using var database = await TestDatabase.CreateAsync(provider);
        using var factory = new FormanovaFactory(Settings(("Model:Bootstrap:Enabled", "false")).Concat(database.Settings));
        var client = factory.CreateClient();
        var columns = EnsembleFixtures.Columns(ModelTask.Regression, EnsembleFixtures.Features);
        var members = await ReportFixtures.ImportAsync(
            factory.Services, "members", columns, EnsembleFixtures.Rows(ModelTask.Regression, 800, seed: 1), withDate: false);
        var held = await ReportFixtures.ImportAsync(
            factory.Services, "ensemble", columns, EnsembleFixtures.Rows(ModelTask.Regression, 800, seed: 2), withDate: false);
        var left = RunAsync(
            client,
            new { model = "left", version = "1.0.0", task = "regression", datasetId = members, excludeColumns = new[] { "c", "d" } });
        var right = RunAsync(
            client,
            new { model = "right", version = "1.0.0", task = "regression", datasetId = members, excludeColumns = new[] { "a", "b" } });
        Assert.That((await Task.WhenAll(left, right)).Select(Status), Is.All.EqualTo("completed"));
        object Ensemble(string combiner) => new
        {
            combiner,
            members = new[] { new { model = "left", version = "1.0.0" }, new { model = "right", version = "1.0.0" } },
        };

        var averaged = RunAsync(
            client,
            new { model = "blend", version = "1.0.0", task = "regression", datasetId = held, ensemble = Ensemble("average") });
        var stacked = RunAsync(
            client,
            new { model = "stack", version = "1.0.0", task = "regression", datasetId = held, ensemble = Ensemble("stacking") });
        var runs = await Task.WhenAll(averaged, stacked);

        Assert.That(runs.Select(Status), Is.All.EqualTo("completed"), string.Join("\n", runs.Select(r => r.ToJsonString())));
        var version = await ReadAsync(await client.GetAsync("/api/v1/models/stack/versions/1.0.0"));
        var prediction = await ReadAsync(await client.PostAsJsonAsync(
            "/api/v1/models/stack/predict",
            new { version = "1.0.0", inputs = new { a = 1.0, b = 1.0, c = 1.0, d = 1.0 }, includeMembers = true }));
        var reports = runs.Select(r => r["report"]!["ensemble"]!).ToList();
        foreach (var (name, report) in new[] { "average", "stacking" }.Zip(reports))
        {
            TestContext.Out.WriteLine(
                $"{name}: ensemble rmse {(double)report["ensemble"]!["rmse"]!:F3}; members "
                + string.Join(", ", report["members"]!.AsArray().Select(m => $"{m!["model"]} {(double)m["metrics"]!["rmse"]!:F3}"))
                + $" on {report["rows"]} held-out rows");
        }

        Assert.Multiple(() =>
        {
            foreach (var report in reports)
            {
                var best = report["members"]!.AsArray().Min(m => Figures(m!["metrics"]!)["rmse"]);
                Assert.That(report["members"]!.AsArray().Select(m => (string?)m!["model"]), Is.EqualTo(new[] { "left", "right" }));
                Assert.That(Figures(report["ensemble"]!)["rmse"], Is.LessThanOrEqualTo(best), report.ToJsonString());
                Assert.That((long)report["rows"]!, Is.EqualTo(160), "the same 20 % held out for the ensemble and each member");
            }

            Assert.That(
                Figures(reports[1]["ensemble"]!)["rmse"],
                Is.LessThan(Figures(reports[0]["ensemble"]!)["rmse"]),
                "stacking learns to add the halves; averaging halves them");
            Assert.That((string?)version["framework"], Is.EqualTo("ensemble"));
            Assert.That((string?)version["ensemble"]!["metaLearner"], Is.EqualTo("Sdca"));
            Assert.That((string?)version["ensemble"]!["combiner"], Is.EqualTo("stacking"));
            Assert.That(version["report"]!["ensemble"], Is.Not.Null, "the version keeps the comparison");
            Assert.That((double?)prediction["value"], Is.Not.Null.And.Not.NaN);
            Assert.That(prediction["members"]!.AsArray(), Has.Count.EqualTo(2));
        });
    }
}
