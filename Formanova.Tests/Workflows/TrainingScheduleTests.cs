using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Model;
using Microsoft.Extensions.DependencyInjection;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

/// <summary>
/// Training schedules through the real host and the embedded server: created by POST /training-runs with a
/// schedule, managed under /training/schedules, each firing a ModelTrainingWorkflow on the dataset as it is then.
/// </summary>
[Category("Integration")]
public sealed class TrainingScheduleTests
{
    private const string Model = "churn-sched";

    private static object Scheduled(long datasetId, object schedule, string version = "3.0.0") => new
    {
        model = Model,
        version,
        task = "binaryClassification",
        datasetId,
        activate = true,
        schedule,
    };

    private static async Task<string> CreateAsync(HttpClient client, object body)
    {
        var response = await client.PostAsJsonAsync("/api/v1/training-runs", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        return response.Headers.Location!.ToString();
    }

    private static List<string> RunIds(JsonObject schedule) =>
        schedule["recentRuns"]!.AsArray().Select(r => (string)r!["runId"]!).ToList();

    [Test]
    public async Task TrainingSchedules_WhenCreatedTriggeredPausedAndDeleted_ManageTheTemporalSchedule()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 300);

        // A daily firing that does not come due during the test: only the trigger starts a run.
        var daily = new { cron = "0 3 * * *", timeZone = "Europe/Berlin", jitterSeconds = 60 };
        var location = await CreateAsync(client, Scheduled(dataset, daily));

        Assert.That(location, Does.StartWith("/api/v1/training/schedules/training-schedule-"));
        var created = await ReadAsync(await client.GetAsync(location));
        Assert.Multiple(() =>
        {
            Assert.That((string?)created["spec"]!["cron"], Is.EqualTo("0 3 * * *"));
            Assert.That((string?)created["spec"]!["timeZone"], Is.EqualTo("Europe/Berlin"));
            Assert.That((bool?)created["paused"], Is.False);
            Assert.That(created["nextRuns"]!.AsArray(), Is.Not.Empty);
            Assert.That((long?)created["runs"], Is.Zero);
        });
        var listed = await ReadAsync(await client.GetAsync("/api/v1/training/schedules"));
        Assert.That(listed["items"]!.AsArray().Select(i => (string?)i!["location"]), Does.Contain(location));

        var triggered = await client.PostAsync($"{location}/trigger", null);
        Assert.That(triggered.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await triggered.Content.ReadAsStringAsync());
        var withRun = await PollAsync(client, location, s => RunIds(s).Count == 1, what: "the triggered run to be listed");
        var runLocation = (string)withRun["recentRuns"]![0]!["location"]!;
        var run = await PollAsync(client, runLocation, r => Status(r) is "completed" or "failed", TimeSpan.FromSeconds(120));
        Assert.That(Status(run), Is.EqualTo("completed"), run.ToJsonString());
        var version = (string)run["result"]!["version"]!;
        Assert.That(version, Does.Match(@"^3\.\d{8}\.\d{1,6}$"), "a scheduled run's version is its start time");
        var model = await factory.Services.GetRequiredService<IModelModule>().GetModelAsync(Model);
        Assert.That(model.ActiveVersion, Is.EqualTo(version));

        var paused = await client.PostAsJsonAsync($"{location}/pause", new { note = "dataset migration" });
        Assert.That(paused.StatusCode, Is.EqualTo(HttpStatusCode.OK), await paused.Content.ReadAsStringAsync());
        var pausedView = await ReadAsync(paused);
        Assert.Multiple(() =>
        {
            Assert.That((bool?)pausedView["paused"], Is.True);
            Assert.That((string?)pausedView["note"], Is.EqualTo("dataset migration"));
        });
        var unpaused = await ReadAsync(await client.PostAsync($"{location}/unpause", null));
        Assert.That((bool?)unpaused["paused"], Is.False);

        Assert.That((await client.DeleteAsync(location)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That((await client.GetAsync(location)).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await client.GetAsync(runLocation)).StatusCode, Is.EqualTo(HttpStatusCode.OK), "its runs are kept");
    }

    [Test]
    public async Task TrainingSchedules_WhenTheIntervalComesDue_StartRunsOnTheLatestRowsOfTheDataset()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 300);
        var location = await CreateAsync(client, Scheduled(dataset, new { intervalSeconds = 2, paused = true, note = "rows coming" }));

        // Rows imported after the schedule was created are what its runs train on.
        await WorkflowDatasets.AppendChurnAsync(factory.Services, dataset, 100, seed: 8, firstIndex: 300);
        Assert.That((await client.PostAsync($"{location}/unpause", null)).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var fired = await PollAsync(client, location, s => (long?)s["runs"] >= 1, TimeSpan.FromSeconds(60), "the interval to start a run");
        var runLocation = (string)fired["recentRuns"]![0]!["location"]!;
        var run = await PollAsync(client, runLocation, r => Status(r) is "completed" or "failed", TimeSpan.FromSeconds(120));
        Assert.That(Status(run), Is.EqualTo("completed"), run.ToJsonString());
        Assert.That((await client.DeleteAsync(location)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        var version = await factory.Services.GetRequiredService<IModelModule>().GetVersionAsync(Model, (string)run["result"]!["version"]!);
        Assert.That(version.Report!.Rows.Read, Is.EqualTo(400), "the run read the dataset as it was when it fired");
    }

    [Test]
    public async Task TrainingSchedules_WhenTheSpecIsInvalid_Return400NamingTheFieldAndCreateNothing()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 50);

        const string path = "/api/v1/training-runs";
        var both = await client.PostAsJsonAsync(path, Scheduled(dataset, new { cron = "0 3 * * *", intervalSeconds = 60 }));
        var zone = await client.PostAsJsonAsync(path, Scheduled(dataset, new { intervalSeconds = 60, timeZone = "Mars/Olympus" }));
        var cron = await client.PostAsJsonAsync(path, Scheduled(dataset, new { cron = "every day" }));

        Assert.Multiple(async () =>
        {
            Assert.That(both.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That((await ReadAsync(both))["errors"]!.AsObject().Select(kv => kv.Key), Does.Contain("schedule.cron"));
            Assert.That(zone.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That((await ReadAsync(zone))["errors"]!.AsObject().Select(kv => kv.Key), Does.Contain("schedule.timeZone"));
            Assert.That(cron.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That((await ReadAsync(cron))["errors"]!.AsObject().Select(kv => kv.Key), Does.Contain("schedule.cron"));
        });
        var listed = await ReadAsync(await client.GetAsync("/api/v1/training/schedules"));
        Assert.That(listed["items"]!.AsArray(), Is.Empty);
        var unknown = await client.GetAsync("/api/v1/training/schedules/training-schedule-none");
        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }
}
