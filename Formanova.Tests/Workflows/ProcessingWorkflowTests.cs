using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Formanova.Host.Temporal;
using Formanova.Host.Workflows;
using Formanova.Host.Workflows.Processing;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Worker;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

[Category("Integration")]
public sealed class ProcessingWorkflowTests
{
    [Test]
    public async Task Predictions_WhenInputIsValid_Returns200WithNormalisedResultAndEvents()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync("/api/v1/predictions", Body());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var result = await ReadAsync(response);
        var jobId = (string)result["jobId"]!;
        Assert.Multiple(() =>
        {
            Assert.That((string?)result["model"], Is.EqualTo(DemoModel));
            Assert.That((string?)result["version"], Is.EqualTo("1.0.0"));
            Assert.That((string?)result["decision"], Is.AnyOf("positive", "negative"));
            Assert.That((string?)result["features"]!["feedback"], Is.EqualTo("too expensive"), "prepare_data normalises text");
            Assert.That(result["errors"]!.AsArray(), Is.Empty);
        });

        var events = await factory.Services.GetRequiredService<IEventModule>().ListAsync(new EventQuery(Source: $"/workflows/{jobId}"));
        Assert.That(events.Items.Select(e => e.Type), Is.EqualTo(new[] { IEventModule.WorkflowStarted, IEventModule.ProcessingCompleted, IEventModule.WorkflowCompleted }));

        var stored = await PollAsync(client, $"/api/v1/jobs/{jobId}", job => Status(job) == "completed");
        Assert.That((string?)stored["result"]!["decision"], Is.EqualTo((string?)result["decision"]));
    }

    [Test]
    public async Task Predictions_WhenEntityIsGiven_PredictOnTheStoredFeaturesWithRequestValuesWinning()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 20);
        var stored = (await factory.Services.GetRequiredService<IDataModule>().FindRowByEntityIdAsync(dataset, "c5"))!;
        var models = factory.Services.GetRequiredService<IModelModule>();
        var features = (await models.GetVersionAsync(DemoModel, "1.0.0")).Columns.Where(c => !c.IsLabel).Select(c => c.Name).ToList();
        var expectedInputs = features.ToDictionary(name => name, name => stored.Values.GetValueOrDefault(name));
        expectedInputs["support_calls"] = 9.0;
        var expected = await models.PredictAsync(new PredictRequest(DemoModel, expectedInputs, "1.0.0", UseCache: false));

        var response = await client.PostAsJsonAsync("/api/v1/predictions", new
        {
            model = DemoModel, version = "1.0.0", datasetId = dataset, entityId = "c5",
            inputs = new Dictionary<string, object?> { ["support_calls"] = 9.0 }, @params = new { useCache = false, roundDigits = 15 },
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var result = await ReadAsync(response);
        Assert.Multiple(() =>
        {
            Assert.That((long?)result["sourceRowId"], Is.EqualTo(stored.RowId));
            Assert.That(result["filledFromStore"]!.AsArray().Select(n => (string)n!), Is.EquivalentTo(features.Where(f => f != "support_calls" && stored.Values[f] is not null)));
            Assert.That(result["features"]!.AsObject().Select(kv => kv.Key), Does.Not.Contain("customer_id"), "only the model's features are taken from the store");
            Assert.That((double?)result["features"]!["support_calls"], Is.EqualTo(9.0), "request values win");
            Assert.That((double?)result["score"], Is.EqualTo(expected.Score).Within(1e-9), "inference ran on the enriched features");
            Assert.That((string?)result["label"], Is.EqualTo(expected.Label));
        });
    }

    [Test]
    public async Task Predictions_WhenBodyIsMalformed_Returns400BeforeAnyWorkflow()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync("/api/v1/predictions", new { inputs = new { } , @params = new { decisionThreshold = 2 } });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var problem = await ReadAsync(response);
        Assert.That(problem["errors"]!.AsObject().Select(kv => kv.Key), Is.SupersetOf(new[] { "model", "inputs", "params.decisionThreshold" }));
        var jobs = await ReadAsync(await client.GetAsync("/api/v1/jobs"));
        Assert.That(jobs["items"]!.AsArray(), Is.Empty);
    }

    [Test]
    public async Task Predictions_WhenWorkflowValidationFails_Returns422WithReasonsAndNoRetry()
    {
        var faults = new FaultyModelModule();
        using var factory = Factory(faults);
        var client = await ClientAsync(factory);
        var input = ValidInput();
        input["contract"] = 12;
        input["shoe_size"] = 44;

        var response = await client.PostAsJsonAsync("/api/v1/predictions", Body(input));

        Assert.That(response.StatusCode, Is.EqualTo((HttpStatusCode)422), await response.Content.ReadAsStringAsync());
        var errors = (await ReadAsync(response))["errors"]!.AsObject();
        Assert.That(errors.Select(kv => kv.Key), Is.EquivalentTo(new[] { "inputs.contract", "inputs.shoe_size" }));
        Assert.That(faults.Calls("predict"), Is.Zero, "inference never ran");
    }

    [Test]
    public async Task Jobs_WhenSubmitted_Return202WithLocationAndComplete()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync("/api/v1/jobs", Body());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        var location = response.Headers.Location!.ToString();
        Assert.That(location, Does.StartWith("/api/v1/jobs/job-"));
        var job = await PollAsync(client, location, j => Status(j) == "completed");
        Assert.Multiple(() =>
        {
            Assert.That((double?)job["progressPercent"], Is.EqualTo(100));
            Assert.That(job["result"]!["version"]!.GetValue<string>(), Is.EqualTo("1.0.0"));
        });

        var listed = await ReadAsync(await client.GetAsync("/api/v1/jobs?status=completed&type=processing&limit=10"));
        Assert.That(listed["items"]!.AsArray().Select(i => (string)i!["id"]!), Does.Contain(location.Split('/')[^1]));
        var running = await ReadAsync(await client.GetAsync("/api/v1/jobs?status=running"));
        Assert.That(running["items"]!.AsArray(), Is.Empty);
    }

    [Test]
    public async Task Jobs_WhenPausedParamsUpdatedAndResumed_ApplyTheNewParams()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var response = await client.PostAsJsonAsync("/api/v1/jobs", Body(startPaused: true));
        var location = response.Headers.Location!.ToString();

        var paused = await PollAsync(client, location, j => Status(j) == "paused");
        Assert.That((string?)paused["stage"], Does.StartWith("paused"));

        var patched = await client.PatchAsJsonAsync($"{location}/params", new { decisionThreshold = 0.0, roundDigits = 2 });
        Assert.That(patched.StatusCode, Is.EqualTo(HttpStatusCode.OK), await patched.Content.ReadAsStringAsync());
        await PollAsync(client, location, j => (double?)j["params"]?["decisionThreshold"] == 0.0);

        Assert.That((await client.PostAsync($"{location}/resume", null)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        var done = await PollAsync(client, location, j => Status(j) == "completed");
        Assert.That((string?)done["result"]!["decision"], Is.EqualTo("positive"), "threshold 0 makes every binary score positive");

        var late = await client.PostAsync($"{location}/pause", null);
        Assert.That(late.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
    }

    [Test]
    public async Task Jobs_WhenPausedWhileInferenceRuns_WaitBeforeAggregatingUntilResumed()
    {
        var (faults, release) = HeldInference();
        using var factory = Factory(faults);
        var client = await ClientAsync(factory);
        var location = await StartHeldJobAsync(client);

        Assert.That((await client.PostAsync($"{location}/pause", null)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        await PollAsync(client, location, j => Status(j) == "paused");
        release.SetResult();
        var held = await PollAsync(client, location, j => (string?)j["stage"] == "paused (aggregating)");
        Assert.That((double?)held["progressPercent"], Is.EqualTo(30));

        await client.PostAsync($"{location}/resume", null);
        await PollAsync(client, location, j => Status(j) == "completed");
    }

    [Test]
    public async Task Jobs_WhenCancelledWhilePaused_EndCancelledWithReasonStoredAndFailedEvent()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var location = (await client.PostAsJsonAsync("/api/v1/jobs", Body(startPaused: true))).Headers.Location!.ToString();
        await PollAsync(client, location, j => Status(j) == "paused");

        var cancel = await client.PostAsJsonAsync($"{location}/cancel", new { reason = "customer withdrew" });

        Assert.That(cancel.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        var job = await PollAsync(client, location, j => Status(j) == "cancelled");
        Assert.Multiple(() =>
        {
            Assert.That(job["errors"]!.AsArray().Select(e => (string)e!["type"]!), Does.Contain("Cancelled"));
            Assert.That((string?)job["error"], Does.Contain("customer withdrew"));
            Assert.That(job["result"], Is.Null);
        });
        var id = location.Split('/')[^1];
        var events = await factory.Services.GetRequiredService<IEventModule>().ListAsync(new EventQuery(Source: $"/workflows/{id}"));
        var failed = events.Items.Single(e => e.Type == IEventModule.WorkflowFailed);
        Assert.That(failed.Data!.Value.GetProperty("reason").GetString(), Does.StartWith("customer withdrew"));
        Assert.That(events.Items.Select(e => e.Type), Does.Not.Contain(IEventModule.ProcessingCompleted));

        var again = await client.PostAsync($"{location}/cancel", null);
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.Conflict), "a closed job accepts no cancel");
    }

    [Test]
    public async Task Jobs_WhenCancelledDuringInference_StopAtTheNextStageWithoutAggregating()
    {
        var (faults, release) = HeldInference();
        using var factory = Factory(faults);
        var client = await ClientAsync(factory);
        var location = await StartHeldJobAsync(client);

        Assert.That((await client.PostAsync($"{location}/cancel", null)).StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        release.SetResult();

        var job = await PollAsync(client, location, j => Status(j) == "cancelled");
        var cancelled = job["errors"]!.AsArray().Single(e => (string?)e!["type"] == "Cancelled")!;
        Assert.Multiple(() =>
        {
            Assert.That((string?)cancelled["stage"], Is.EqualTo("aggregating"), "the step in flight finished; the next one never started");
            Assert.That((string?)job["error"], Does.Contain("Cancelled on request"));
            Assert.That(faults.Calls("predict"), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Jobs_WhenTemporalCancellationIsRequested_EndCancelledWithStoredResult()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var location = (await client.PostAsJsonAsync("/api/v1/jobs", Body(startPaused: true))).Headers.Location!.ToString();
        await PollAsync(client, location, j => Status(j) == "paused");
        var id = location.Split('/')[^1];

        await factory.Services.GetRequiredService<Temporalio.Client.ITemporalClient>().GetWorkflowHandle(id).CancelAsync();

        var job = await PollAsync(client, location, j => Status(j) == "cancelled");
        Assert.That(job["errors"]!.AsArray().Select(e => (string)e!["type"]!), Does.Contain("Cancelled"));
        var events = await factory.Services.GetRequiredService<IEventModule>().ListAsync(new EventQuery(Source: $"/workflows/{id}"));
        Assert.That(events.Items.Select(e => e.Type), Does.Contain(IEventModule.WorkflowFailed));
    }

    [Test]
    public async Task Jobs_WhenIdempotencyKeyRepeats_ReturnTheSameJobAndConflictOnAnotherBody()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        async Task<HttpResponseMessage> Post(object body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs") { Content = JsonContent.Create(body) };
            request.Headers.Add("Idempotency-Key", "order-42");
            return await client.SendAsync(request);
        }

        var first = await Post(Body());
        var second = await Post(Body());
        var third = await Post(Body(parameters: new { decisionThreshold = 0.9 }));

        Assert.Multiple(() =>
        {
            Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
            Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
            Assert.That(second.Headers.Location, Is.EqualTo(first.Headers.Location));
            Assert.That(third.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        });
        await PollAsync(client, first.Headers.Location!.ToString(), j => Status(j) == "completed");
        var again = await Post(Body());
        Assert.That(again.Headers.Location, Is.EqualTo(first.Headers.Location), "a closed job is not started again");
        var listed = await ReadAsync(await client.GetAsync("/api/v1/jobs"));
        Assert.That(listed["items"]!.AsArray(), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Jobs_WhenInferenceFailsTwice_RetryAndSucceed()
    {
        var faults = new FaultyModelModule
        {
            Before = (op, _, count, _) => op == "predict" && count <= 2 ? throw new ModuleException(ErrorKind.Unavailable, "engine pool exhausted") : Task.CompletedTask,
        };
        using var factory = Factory(faults);
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync("/api/v1/predictions", Body());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var result = await ReadAsync(response);
        Assert.Multiple(() =>
        {
            Assert.That(faults.Calls("predict"), Is.EqualTo(3));
            Assert.That(result["fallbackFrom"], Is.Null);
            Assert.That(result["errors"]!.AsArray(), Is.Empty, "retries that succeed are not errors");
        });
    }

    [Test]
    public async Task Jobs_WhenInferenceTimesOutOnEveryAttempt_FallBackOrFailWithTheTimeoutRecorded()
    {
        var faults = new FaultyModelModule { Before = (op, _, _, ct) => op == "predict" ? Task.Delay(Timeout.Infinite, ct) : Task.CompletedTask };
        using var factory = Factory(faults, ("Workflows:Timeouts:InferenceSeconds", "0.5"), ("Workflows:Retry:MaximumAttempts", "2"));
        var client = await ClientAsync(factory);

        var location = (await client.PostAsJsonAsync("/api/v1/jobs", Body())).Headers.Location!.ToString();

        var job = await PollAsync(client, location, j => Status(j) == "failed");
        var errors = job["errors"]!.AsArray();
        Assert.Multiple(() =>
        {
            Assert.That(errors.Select(e => (string)e!["stage"]!), Does.Contain("inference"));
            Assert.That(errors.Select(e => (string)e!["type"]!), Does.Contain("Timeout"));
            Assert.That((string?)errors[^1]!["message"], Does.Contain("No stable version"), "the only version cannot fall back");
        });
    }

    [Test]
    public async Task Jobs_WhenInferenceStillFailsAfterRetries_FallBackToThePreviousStableVersion()
    {
        var faults = new FaultyModelModule
        {
            Before = (op, version, _, _) => op == "predict" && version == "1.1.0" ? throw new ModuleException(ErrorKind.Unavailable, "engine crashed") : Task.CompletedTask,
        };
        using var factory = Factory(faults, ("Workflows:Retry:MaximumAttempts", "2"));
        var client = await ClientAsync(factory);
        const Formanova.Modules.Model.ModelTask task = Formanova.Modules.Model.ModelTask.BinaryClassification;
        await factory.Services.GetRequiredService<Formanova.Modules.Model.IModelModule>().TrainAsync(
            new Formanova.Modules.Model.TrainModelRequest(DemoModel, "1.1.0", task, Formanova.Modules.Model.Training.SampleData.Columns(task), Seed: 11, Activate: true),
            Formanova.Modules.Model.Training.SampleData.RowsAsync(task, 300, 11));

        var response = await client.PostAsJsonAsync("/api/v1/predictions", Body());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var result = await ReadAsync(response);
        Assert.Multiple(() =>
        {
            Assert.That((string?)result["version"], Is.EqualTo("1.0.0"));
            Assert.That((string?)result["fallbackFrom"], Is.EqualTo("1.1.0"));
            Assert.That((string?)result["fallbackReason"], Does.Contain("engine crashed"));
            Assert.That(result["errors"]!.AsArray().Select(e => (string)e!["stage"]!), Is.EqualTo(new[] { "inference", "fallback" }));
        });
        var model = await factory.Services.GetRequiredService<Formanova.Modules.Model.IModelModule>().GetModelAsync(DemoModel);
        Assert.That(model.ActiveVersion, Is.EqualTo("1.0.0"));
    }

    /// <summary>A model module whose predictions wait until the returned source is completed.</summary>
    [Test]
    public async Task Run_WhenStartedBeforeRevision2_AggregatesInLocalActivitiesAndBothShapesReplay()
    {
        using var factory = Factory();
        await ClientAsync(factory);
        var temporal = factory.Services.GetRequiredService<ITemporalClient>();
        var queue = factory.Services.GetRequiredService<IOptions<TemporalOptions>>().Value.TaskQueue;
        var inputs = ValidInput().ToDictionary(kv => kv.Key, kv => JsonSerializer.SerializeToElement(kv.Value));
        var old = new ProcessingRequest("job", DemoModel, null, null, inputs, null, null, false, false, new ProcessingParams(), "hash",
            factory.Services.GetRequiredService<WorkflowGateway>().Policy());

        async Task<Temporalio.Common.WorkflowHistory> RunAsync(string id, ProcessingRequest request)
        {
            var handle = await temporal.StartWorkflowAsync((ProcessingWorkflow wf) => wf.RunAsync(request), new WorkflowOptions(id, queue));
            await handle.GetResultAsync();
            return await handle.FetchHistoryAsync();
        }

        var before = await RunAsync("job-revision-1", old);
        var current = await RunAsync("job-revision-2", old with { Revision = ProcessingRequest.Current });

        // Revision 1: WORKFLOW_STARTED, validate, prepare, aggregate, post-process, persist_and_emit; revision 2 aggregates in workflow code.
        static int Markers(Temporalio.Common.WorkflowHistory history) => history.Events.Count(e => e.EventType == EventType.MarkerRecorded);
        Assert.That((Markers(before), Markers(current)), Is.EqualTo((6, 4)));
        var replayer = new WorkflowReplayer(new WorkflowReplayerOptions().AddWorkflow<ProcessingWorkflow>());
        foreach (var history in new[] { before, current })
        {
            var replay = await replayer.ReplayWorkflowAsync(history, throwOnReplayFailure: false);
            Assert.That(replay.ReplayFailure, Is.Null, history.Id);
        }
    }

    private static (FaultyModelModule Faults, TaskCompletionSource Release) HeldInference()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return (new FaultyModelModule { Before = (op, _, _, ct) => op == "predict" ? release.Task.WaitAsync(ct) : Task.CompletedTask }, release);
    }

    /// <summary>Submits a job and waits until it is inside the processing stage (inference held).</summary>
    private static async Task<string> StartHeldJobAsync(HttpClient client)
    {
        var location = (await client.PostAsJsonAsync("/api/v1/jobs", Body())).Headers.Location!.ToString();
        await PollAsync(client, location, j => (string?)j["stage"] == "processing");
        return location;
    }
}
