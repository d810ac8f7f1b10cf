using System.Net;
using System.Net.Http.Json;
using Formanova.Host.Temporal;
using Formanova.Host.Workflows;
using Formanova.Host.Workflows.Training;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

/// <summary>
/// Training runs that cannot succeed: refused before 202 when that can be known, and otherwise failing once, with
/// their problems stored in the run and published in TRAINING_FAILED. On each storage provider, through the REST API
/// and the real workflow.
/// </summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class TrainingRunFailureTests(DatabaseProvider provider)
{
    private HostedDatabase? _host;
    private HttpClient _client = null!;
    private long _penguins;

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        _host = await HostedDatabase.StartAsync(provider, Settings(("Model:Bootstrap:Enabled", "false")));
        _client = _host.Client;
        _penguins = await WorkflowDatasets.PenguinsAsync(_host.Factory.Services);
    }

    [OneTimeTearDown]
    public async Task OneTimeTearDown()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    private object Run(
        string task,
        string model = "penguins",
        string version = "1.0.0",
        long? datasetId = null,
        object? transforms = null) =>
        new { model, version, task, datasetId = datasetId ?? _penguins, transforms };

    private async Task<List<string>> TrainingRunIdsAsync()
    {
        var page = await ReadAsync(await _client.GetAsync("/api/v1/jobs?type=training&pageSize=500"));
        return [.. page["items"]!.AsArray().Select(i => (string)i!["id"]!)];
    }

    [Test]
    public async Task StartTrainingRun_WhenABinaryTaskGetsAThreeClassLabel_Answers422NamingTheLabelAndTheTaskBeforeAnyRun()
    {
        var before = await TrainingRunIdsAsync();

        var response = await _client.PostAsJsonAsync("/api/v1/training-runs", Run("binaryClassification"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity), await response.Content.ReadAsStringAsync());
        var reason = (string)(await ReadAsync(response))["errors"]!["task"]![0]!;
        Assert.Multiple(async () =>
        {
            Assert.That(reason, Does.Contain("'species'").And.Contain("binaryClassification").And.Contain("3 distinct values"));
            Assert.That(reason, Does.Contain("Adelie, Chinstrap, Gentoo"));
            Assert.That(await TrainingRunIdsAsync(), Is.EqualTo(before), "no run was started");
        });
    }

    [Test]
    public async Task StartTrainingRun_WhenTheLabelDoesNotFitTheTaskOrTheDatasetIsUnknown_AnswersBeforeAnyRun()
    {
        var before = await TrainingRunIdsAsync();

        var regression = await _client.PostAsJsonAsync("/api/v1/training-runs", Run("regression"));
        var oneClass = await _client.PostAsJsonAsync(
            "/api/v1/training-runs",
            Run("multiclassClassification", transforms: new[] { new { op = "filter", expression = "species == \"Adelie\"" } }));
        var unknown = await _client.PostAsJsonAsync("/api/v1/training-runs", Run("multiclassClassification", datasetId: 987_654));

        Assert.Multiple(async () =>
        {
            Assert.That(regression.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
            Assert.That(
                (string?)(await ReadAsync(regression))["errors"]!["task"]![0],
                Does.Contain("'species' is categorical").And.Contain("regression needs a numeric label"));
            Assert.That(oneClass.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity), "counted after the request's filter");
            Assert.That(
                (string?)(await ReadAsync(oneClass))["errors"]!["task"]![0],
                Does.Contain("1 distinct value (Adelie)").And.Contain("at least 2 classes"));
            Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That((await ReadAsync(unknown))["errors"]!["datasetId"], Is.Not.Null);
            Assert.That(await TrainingRunIdsAsync(), Is.EqualTo(before), "no run was started");
        });
    }

    [Test]
    public async Task StartTrainingRun_WhenTheNameOrVersionCanNeverRegister_Answers400NamingTheField()
    {
        var name = await _client.PostAsJsonAsync("/api/v1/training-runs", Run("multiclassClassification", model: "Penguin Model!"));
        var version = await _client.PostAsJsonAsync("/api/v1/training-runs", Run("multiclassClassification", version: "first"));

        Assert.Multiple(async () =>
        {
            Assert.That(name.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That((await ReadAsync(name))["errors"]!.AsObject().Select(kv => kv.Key), Is.EqualTo(new[] { "model" }));
            Assert.That(version.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That((await ReadAsync(version))["errors"]!.AsObject().Select(kv => kv.Key), Is.EqualTo(new[] { "version" }));
        });
    }

    [Test]
    public async Task StartTrainingRun_WhenTheVersionExists_Answers409NamingItButTheSameIdempotencyKeyFindsItsRun()
    {
        var body = Run("multiclassClassification", model: "penguins-dup");
        using var first = new HttpRequestMessage(HttpMethod.Post, "/api/v1/training-runs") { Content = JsonContent.Create(body) };
        first.Headers.Add("Idempotency-Key", "penguins-dup-1");
        var started = await _client.SendAsync(first);
        Assert.That(started.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await started.Content.ReadAsStringAsync());
        var location = started.Headers.Location!.ToString();
        var run = await PollAsync(_client, location, r => Status(r) is "completed" or "failed", TimeSpan.FromSeconds(120));
        Assert.That(Status(run), Is.EqualTo("completed"), run.ToJsonString());

        var again = await _client.PostAsJsonAsync("/api/v1/training-runs", body);
        using var repeated = new HttpRequestMessage(HttpMethod.Post, "/api/v1/training-runs") { Content = JsonContent.Create(body) };
        repeated.Headers.Add("Idempotency-Key", "penguins-dup-1");
        var sameKey = await _client.SendAsync(repeated);

        Assert.Multiple(async () =>
        {
            Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
            Assert.That((string?)(await ReadAsync(again))["errors"]!["version"]![0], Does.Contain("'penguins-dup'").And.Contain("'1.0.0'"));
            Assert.That(sameKey.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), "a repeated request finds its own run");
            Assert.That(sameKey.Headers.Location?.ToString(), Is.EqualTo(location));
        });
    }

    [Test]
    public async Task TrainingRun_WhenItsRowsFailLate_StoresTheProblemsInTheRunAndInTrainingFailedAfterOneAttempt()
    {
        // Two species are left, so the binary check passes; but species names are no binary labels, which only the
        // Model module's read of the rows finds.
        var transforms = new[] { new { op = "filter", expression = "species != \"Gentoo\"" } };
        var location = await StartAsync(Run("binaryClassification", model: "penguins-late", transforms: transforms));
        var id = location.Split('/')[^1];

        var run = await PollAsync(_client, location, r => Status(r) is "completed" or "failed", TimeSpan.FromSeconds(120));

        Assert.That(Status(run), Is.EqualTo("failed"), run.ToJsonString());
        var problems = run["problems"]!.AsArray();
        var events = await _host!.Factory.Services.GetRequiredService<IEventModule>().ListAsync(new EventQuery(Source: $"/workflows/{id}"));
        var failed = events.Items.Single(e => e.Type == IEventModule.TrainingFailed).Data!.Value;
        Assert.Multiple(async () =>
        {
            // Every one of the 20 rows is wrong: the Model module lists the first ones, the run keeps at most Max.
            Assert.That(problems, Has.Count.GreaterThan(1).And.Count.LessThanOrEqualTo(TrainingProblems.Max));
            Assert.That((long?)problems[0]!["row"], Is.EqualTo(0));
            Assert.That((string?)problems[0]!["column"], Is.EqualTo("species"));
            Assert.That((string?)problems[0]!["reason"], Does.Contain("label"));
            Assert.That((long?)problems[1]!["row"], Is.EqualTo(1));
            Assert.That(failed.GetProperty("problems").GetArrayLength(), Is.EqualTo(problems.Count));
            Assert.That(failed.GetProperty("problems")[0].GetProperty("column").GetString(), Is.EqualTo("species"));
            Assert.That(failed.GetProperty("message").GetString(), Is.EqualTo((string?)run["error"]));
            Assert.That(events.Items[^1].Type, Is.EqualTo(IEventModule.WorkflowFailed));
            Assert.That(await TrainAttemptsAsync(id), Is.EqualTo(1), "invalid rows are not retried");
        });
    }

    [Test]
    public async Task TrainingRun_WhenTheModelNameCanNeverRegister_FailsOnTheFirstAttempt()
    {
        // Started past the API's checks, as a run from another client or an older host would be.
        var services = _host!.Factory.Services;
        var gateway = services.GetRequiredService<WorkflowGateway>();
        var input = new TrainingRunInput("Penguin Model!", "1.0.0", ModelTask.MulticlassClassification, _penguins, null, null, 42, 0.2,
            [], [], false, false, 60, 3, gateway.Policy());
        var id = $"training-{Guid.NewGuid():N}";
        var handle = await services.GetRequiredService<ITemporalClient>().StartWorkflowAsync(
            (ModelTrainingWorkflow wf) => wf.RunAsync(input),
            new WorkflowOptions(id, services.GetRequiredService<IOptions<TemporalOptions>>().Value.TaskQueue));

        Assert.ThrowsAsync<Temporalio.Exceptions.WorkflowFailedException>(() => handle.GetResultAsync());
        var run = await ReadAsync(await _client.GetAsync($"/api/v1/training-runs/{id}"));
        Assert.Multiple(async () =>
        {
            Assert.That(await TrainAttemptsAsync(id), Is.EqualTo(1));
            Assert.That((string?)run["problems"]![0]!["field"], Is.EqualTo("name"));
        });
    }

    private async Task<string> StartAsync(object body)
    {
        var response = await _client.PostAsJsonAsync("/api/v1/training-runs", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        return response.Headers.Location!.ToString();
    }

    /// <summary>The attempt train_model was on when it last started: a retried step records only its last start.</summary>
    private async Task<int> TrainAttemptsAsync(string id)
    {
        var client = _host!.Factory.Services.GetRequiredService<ITemporalClient>();
        var history = await client.GetWorkflowHandle(id).FetchHistoryAsync();
        var scheduled = history.Events
            .Where(e => e.EventType == EventType.ActivityTaskScheduled
                && e.ActivityTaskScheduledEventAttributes.ActivityType.Name == "train_model")
            .Select(e => e.EventId)
            .ToHashSet();
        return history.Events
            .Where(e => e.EventType == EventType.ActivityTaskStarted
                && scheduled.Contains(e.ActivityTaskStartedEventAttributes.ScheduledEventId))
            .Select(e => e.ActivityTaskStartedEventAttributes.Attempt)
            .Single();
    }
}
