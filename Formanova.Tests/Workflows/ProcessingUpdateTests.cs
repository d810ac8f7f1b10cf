using System.Net;
using System.Net.Http.Json;
using Formanova.Host.Workflows.Processing;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Exceptions;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

/// <summary>
/// The ProcessingWorkflow's updates through the real host and the embedded server: set_params behind
/// PATCH /jobs/{id}/params, and await_answer behind the early answer of POST /predictions.
/// </summary>
[Category("Integration")]
public sealed class ProcessingUpdateTests
{
    /// <summary>
    /// A factory whose result store refuses a run's succeeded result (as unavailable, so persistence retries) while
    /// <paramref name="hold"/> says so: the run stays open in its persisting stage. POST /predictions answers early
    /// (Workflows:SyncAnswer=Early), so the answer can arrive while the run is held.
    /// </summary>
    private static FormanovaFactory HeldPersistence(Func<bool> hold, params (string Key, string? Value)[] extra) =>
        new(Settings([("Workflows:SyncAnswer", "Early"), .. extra]), services => services.Decorate<IDataModule>((inner, _) =>
            FailingDataModule.Wrap(
            inner,
            r => r.Status == ResultStatus.Succeeded && r.Step != "request" && hold())));

    private static async Task<List<EventType>> HistoryEventsAsync(FormanovaFactory factory, string id)
    {
        var history = await factory.Services.GetRequiredService<ITemporalClient>().GetWorkflowHandle(id).FetchHistoryAsync();
        return history.Events.Select(e => e.EventType).ToList();
    }

    [Test]
    public async Task PatchParams_WhenValid_ReturnsTheJobWithTheNewParamsAppliedThroughAnUpdate()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var location = (await client.PostAsJsonAsync("/api/v1/jobs", Body(startPaused: true))).Headers.Location!.ToString();
        await PollAsync(client, location, j => Status(j) == "paused");

        var patched = await client.PatchAsJsonAsync($"{location}/params", new { decisionThreshold = 0.25 });

        Assert.That(patched.StatusCode, Is.EqualTo(HttpStatusCode.OK), await patched.Content.ReadAsStringAsync());
        var job = await ReadAsync(patched);
        Assert.Multiple(async () =>
        {
            Assert.That((double?)job["params"]!["decisionThreshold"], Is.EqualTo(0.25), "the answer already shows the change");
            Assert.That((int?)job["params"]!["roundDigits"], Is.EqualTo(4), "values not given are kept");
            var events = await HistoryEventsAsync(factory, location.Split('/')[^1]);
            Assert.That(events, Does.Contain(EventType.WorkflowExecutionUpdateCompleted));
        });
    }

    [Test]
    public async Task PatchParams_WhenTheJobIsPastPostProcessing_Returns400NamingTheFieldAndRecordsNothing()
    {
        var holding = 1;
        using var factory = HeldPersistence(() => Volatile.Read(ref holding) == 1);
        var client = await ClientAsync(factory);

        // The early answer leaves the run persisting (a regular activity, retried while held), where status queries
        // and updates are answered.
        var answered = await client.PostAsJsonAsync("/api/v1/predictions", Body());
        var id = (string)(await ReadAsync(answered))["jobId"]!;
        var location = $"/api/v1/jobs/{id}";
        await PollAsync(client, location, j => (string?)j["stage"] == "persisting", what: "the job to be persisting");

        var patched = await client.PatchAsJsonAsync($"{location}/params", new { decisionThreshold = 0.0, useCache = false });

        Assert.That(patched.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await patched.Content.ReadAsStringAsync());
        var problem = await ReadAsync(patched);
        Assert.Multiple(() =>
        {
            Assert.That(problem["errors"]!.AsObject().Select(kv => kv.Key), Is.EquivalentTo(new[] { "decisionThreshold", "useCache" }));
            Assert.That((string?)problem["errors"]!["decisionThreshold"]![0], Does.Contain("past post-processing"));
        });
        var history = await factory.Services.GetRequiredService<ITemporalClient>().GetWorkflowHandle(id).FetchHistoryAsync();
        var accepted = history.Events
            .Where(e => e.EventType == EventType.WorkflowExecutionUpdateAccepted)
            .Select(e => e.WorkflowExecutionUpdateAcceptedEventAttributes.AcceptedRequest.Input.Name);
        Assert.That(accepted, Is.EqualTo(new[] { "await_answer" }), "the rejected set_params left no event");

        Interlocked.Exchange(ref holding, 0);
        var done = await PollAsync(client, location, j => Status(j) == "completed");
        Assert.That((double?)done["result"]!["score"], Is.Not.Null);
    }

    [Test]
    public async Task SetParams_WhenOutOfRangeAndSentPastTheApi_IsRejectedByTheWorkflowsValidator()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var location = (await client.PostAsJsonAsync("/api/v1/jobs", Body(startPaused: true))).Headers.Location!.ToString();
        await PollAsync(client, location, j => Status(j) == "paused");
        var handle = factory.Services.GetRequiredService<ITemporalClient>().GetWorkflowHandle<ProcessingWorkflow>(location.Split('/')[^1]);

        var rejected = Assert.ThrowsAsync<WorkflowUpdateFailedException>(
            () => handle.ExecuteUpdateAsync(wf => wf.SetParamsAsync(new ProcessingParamsChange(DecisionThreshold: 2, RoundDigits: -1))));

        var cause = (ApplicationFailureException)rejected!.InnerException!;
        var errors = cause.Details.ElementAt<Dictionary<string, string[]>>(0);
        Assert.That(errors.Keys, Is.EquivalentTo(new[] { "decisionThreshold", "roundDigits" }));
        var job = await ReadAsync(await client.GetAsync(location));
        Assert.That((double?)job["params"]!["decisionThreshold"], Is.EqualTo(0.5), "nothing was applied");
    }

    [Test]
    public async Task PatchParams_WhenTheJobHasClosed_Returns409()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var location = (await client.PostAsJsonAsync("/api/v1/jobs", Body())).Headers.Location!.ToString();
        await PollAsync(client, location, j => Status(j) == "completed");

        var patched = await client.PatchAsJsonAsync($"{location}/params", new { roundDigits = 2 });

        Assert.That(patched.StatusCode, Is.EqualTo(HttpStatusCode.Conflict), await patched.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Predictions_WhenAnsweredEarly_AnswerBeforePersistenceAndTheResultAndEventsFollow()
    {
        var holding = 1;
        using var factory = HeldPersistence(() => Volatile.Read(ref holding) == 1);
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync("/api/v1/predictions", Body());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var output = await ReadAsync(response);
        var id = (string)output["jobId"]!;
        var job = await ReadAsync(await client.GetAsync($"/api/v1/jobs/{id}"));
        Assert.Multiple(() =>
        {
            Assert.That((string?)output["decision"], Is.Not.Null);
            Assert.That(Status(job), Is.EqualTo("running"), "the answer came while the result could not be stored");
            Assert.That((string?)job["stage"], Is.EqualTo("persisting"));
        });

        Interlocked.Exchange(ref holding, 0);
        var done = await PollAsync(client, $"/api/v1/jobs/{id}", j => Status(j) == "completed");
        Assert.That((double?)done["result"]!["score"], Is.EqualTo((double?)output["score"]), "the stored result is the answer");
        var events = await factory.Services.GetRequiredService<IEventModule>().ListAsync(new EventQuery(Source: $"/workflows/{id}"));
        Assert.That(
            events.Items.Select(e => e.Type),
            Is.SupersetOf(new[] { IEventModule.WorkflowStarted, IEventModule.ProcessingCompleted, IEventModule.WorkflowCompleted }));
    }

    [Test]
    public async Task Predictions_WhenPersistenceFailsAfterTheEarlyAnswer_TheJobShowsTheFailure()
    {
        using var factory = HeldPersistence(() => true, ("Workflows:Retry:MaximumAttempts", "2"));
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync("/api/v1/predictions", Body());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var id = (string)(await ReadAsync(response))["jobId"]!;
        var job = await PollAsync(client, $"/api/v1/jobs/{id}", j => Status(j) != "running");
        Assert.Multiple(() =>
        {
            Assert.That(Status(job), Is.EqualTo("failed"), job.ToJsonString());
            Assert.That((string?)job["error"], Does.Contain("unavailable"));
        });
        var events = await factory.Services.GetRequiredService<IEventModule>().ListAsync(new EventQuery(Source: $"/workflows/{id}"));
        Assert.That(events.Items.Select(e => e.Type), Does.Contain(IEventModule.WorkflowFailed));
    }

    [Test]
    public async Task Predictions_WhenTheShapeIsResult_AnswerOnlyOnceTheResultIsStored()
    {
        using var factory = Factory(extra: ("Workflows:SyncAnswer", "Result"));
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync("/api/v1/predictions", Body());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var id = (string)(await ReadAsync(response))["jobId"]!;
        var job = await ReadAsync(await client.GetAsync($"/api/v1/jobs/{id}"));
        Assert.That(Status(job), Is.EqualTo("completed"));
        Assert.That(await HistoryEventsAsync(factory, id), Does.Not.Contain(EventType.WorkflowExecutionUpdateAccepted));
    }
}
