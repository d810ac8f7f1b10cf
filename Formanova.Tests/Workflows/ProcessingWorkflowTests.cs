using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Errors;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
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
        Assert.That(
            events.Items.Select(e => e.Type),
            Is.EqualTo(new[] { IEventModule.WorkflowStarted, IEventModule.ProcessingCompleted, IEventModule.WorkflowCompleted }));
        // The event carries the result as the API answers it, in camelCase; JsonElement lookups are case-sensitive.
        Assert.That(events.Items[1].Data!.Value.GetProperty("decision").GetString(), Is.EqualTo((string?)result["decision"]));

        var stored = await PollAsync(client, $"/api/v1/jobs/{jobId}", job => Status(job) == "completed");
        Assert.That((string?)stored["result"]!["decision"], Is.EqualTo((string?)result["decision"]));
    }

    [Test]
    public async Task Predictions_WhenTheResultIsLargerThanAnEventHolds_Return200AndTheEventPointsAtTheStoredResult()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var input = ValidInput();
        input["feedback"] = string.Concat(Enumerable.Repeat("too expensive ", 5_000)).TrimEnd(); // ~70 KB, over Event:MaxDataBytes

        var response = await client.PostAsJsonAsync("/api/v1/predictions", Body(input));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var jobId = (string)(await ReadAsync(response))["jobId"]!;
        var events = await factory.Services.GetRequiredService<IEventModule>().ListAsync(new EventQuery(Source: $"/workflows/{jobId}"));
        var completed = events.Items.Single(e => e.Type == IEventModule.ProcessingCompleted);
        Assert.That(completed.DataRef, Is.EqualTo($"/api/v1/jobs/{jobId}"));
        Assert.That(completed.Data!.Value.TryGetProperty("features", out _), Is.False, "the summary keeps top-level values only");
        var stored = await PollAsync(client, completed.DataRef!, job => Status(job) == "completed");
        Assert.That((string?)stored["result"]!["features"]!["feedback"], Has.Length.GreaterThan(60_000));
        Assert.That((string?)stored["result"]!["decision"], Is.EqualTo(completed.Data.Value.GetProperty("decision").GetString()));
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
            model = DemoModel,
            version = "1.0.0",
            datasetId = dataset,
            entityId = "c5",
            inputs = new Dictionary<string, object?> { ["support_calls"] = 9.0 },
            @params = new { useCache = false, roundDigits = 15 },
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var result = await ReadAsync(response);
        Assert.Multiple(() =>
        {
            Assert.That((long?)result["sourceRowId"], Is.EqualTo(stored.RowId));
            Assert.That(
                result["filledFromStore"]!.AsArray().Select(n => (string)n!),
                Is.EquivalentTo(features.Where(f => f != "support_calls" && stored.Values[f] is not null)));
            Assert.That(
                result["features"]!.AsObject().Select(kv => kv.Key),
                Does.Not.Contain("customer_id"),
                "only the model's features are taken from the store");
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

        var response = await client.PostAsJsonAsync(
            "/api/v1/predictions",
            new { inputs = new { }, @params = new { decisionThreshold = 2 } });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var problem = await ReadAsync(response);
        Assert.That(
            problem["errors"]!.AsObject().Select(kv => kv.Key),
            Is.SupersetOf(new[] { "model", "inputs", "params.decisionThreshold" }));
        var jobs = await ReadAsync(await client.GetAsync("/api/v1/jobs"));
        Assert.That(jobs["items"]!.AsArray(), Is.Empty);
    }

    [Test]
    public async Task Predictions_WhenInputsDoNotMatchTheContractInStrictMode_Return400BeforeAnyRunStarts()
    {
        var faults = new FaultyModelModule();
        using var factory = Factory(faults);
        var client = await ClientAsync(factory);
        var input = ValidInput();
        input["contract"] = 12;
        input["shoe_size"] = 44;

        var response = await client.PostAsJsonAsync("/api/v1/predictions", new { model = DemoModel, inputs = input, strict = true });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await response.Content.ReadAsStringAsync());
        var errors = (await ReadAsync(response))["errors"]!.AsObject();
        Assert.That(errors.Select(kv => kv.Key), Is.EquivalentTo(new[] { "inputs.contract", "inputs.shoe_size" }));
        Assert.That(faults.Calls("predict"), Is.Zero, "inference never ran");
        Assert.That((await ReadAsync(await client.GetAsync("/api/v1/jobs")))["items"]!.AsArray(), Is.Empty, "no run was started");
    }

    [Test]
    public async Task Predictions_WhenTheVersionDoesNotResolve_Return422FromTheRunsValidationAndNoRetry()
    {
        var faults = new FaultyModelModule();
        using var factory = Factory(faults);
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync("/api/v1/predictions", Body(version: "9.9.9"));

        Assert.That(response.StatusCode, Is.EqualTo((HttpStatusCode)422), await response.Content.ReadAsStringAsync());
        Assert.That((await ReadAsync(response))["errors"]!.AsObject().Select(kv => kv.Key), Is.EquivalentTo(new[] { "version" }));
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

        var listed = await ReadAsync(await client.GetAsync("/api/v1/jobs?status=completed&type=processing&pageSize=10"));
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
    public async Task Jobs_WhenCancelledWhilePaused_CloseCanceledInTemporalWithReasonStoredAndFailedEvent()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var location = (await client.PostAsJsonAsync("/api/v1/jobs", Body(startPaused: true))).Headers.Location!.ToString();
        var id = location.Split('/')[^1];
        await PollAsync(client, location, j => Status(j) == "paused");

        var cancel = await client.PostAsJsonAsync($"{location}/cancel", new { reason = "customer withdrew" });

        Assert.That(cancel.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        var job = await PollAsync(client, location, j => Status(j) == "cancelled");
        var description = await factory.Services.GetRequiredService<ITemporalClient>().GetWorkflowHandle(id).DescribeAsync();
        var cancelled = await ReadAsync(await client.GetAsync("/api/v1/jobs?status=cancelled"));
        var failed = await ReadAsync(await client.GetAsync("/api/v1/jobs?status=failed"));
        Assert.Multiple(() =>
        {
            Assert.That(description.Status, Is.EqualTo(WorkflowExecutionStatus.Canceled), "Temporal itself counts the run as cancelled");
            Assert.That(Ids(cancelled), Does.Contain(id));
            Assert.That(Ids(failed), Does.Not.Contain(id));
            var error = job["errors"]!.AsArray().Single(e => (string?)e!["type"] == "Cancelled")!;
            Assert.That((string?)error["message"], Does.Contain("customer withdrew"), "the reason is in the error history");
            Assert.That((string?)job["error"], Does.Contain("customer withdrew"));
            Assert.That(job["result"], Is.Null);
        });
        var events = await factory.Services.GetRequiredService<IEventModule>().ListAsync(new EventQuery(Source: $"/workflows/{id}"));
        var failedEvent = events.Items.Single(e => e.Type == IEventModule.WorkflowFailed);
        Assert.That(failedEvent.Data!.Value.GetProperty("reason").GetString(), Does.StartWith("customer withdrew"));
        Assert.That(events.Items.Select(e => e.Type), Does.Not.Contain(IEventModule.ProcessingCompleted));

        var again = await client.PostAsync($"{location}/cancel", null);
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.Conflict), "a closed job accepts no cancel");
    }

    [Test]
    public async Task Jobs_WhenCancelledDuringInference_CloseCanceledWithoutWaitingForTheStepOrAggregating()
    {
        var (faults, release) = HeldInference();
        using var factory = Factory(faults);
        var client = await ClientAsync(factory);
        var location = await StartHeldJobAsync(client);

        Assert.That((await client.PostAsync($"{location}/cancel", null)).StatusCode, Is.EqualTo(HttpStatusCode.Accepted));

        // Still held: Temporal's cancellation does not wait for the step in flight.
        var job = await PollAsync(client, location, j => Status(j) == "cancelled");
        release.SetResult();
        var cancelled = job["errors"]!.AsArray().Single(e => (string?)e!["type"] == "Cancelled")!;
        var description = await factory.Services.GetRequiredService<ITemporalClient>().GetWorkflowHandle(location.Split('/')[^1])
            .DescribeAsync();
        Assert.Multiple(() =>
        {
            Assert.That(description.Status, Is.EqualTo(WorkflowExecutionStatus.Canceled));
            Assert.That((string?)cancelled["stage"], Is.EqualTo("processing"), "aggregation never started");
            Assert.That((string?)job["error"], Does.Contain("Cancelled on request"));
            Assert.That(faults.Calls("predict"), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Predictions_WhenTheirJobIsCancelledWhileWaiting_Return409()
    {
        var (faults, release) = HeldInference();
        using var factory = Factory(faults);
        var client = await ClientAsync(factory);
        var predicting = client.PostAsJsonAsync("/api/v1/predictions", Body());
        string? id = null;
        await UntilAsync(
            async () => (id = Ids(await ReadAsync(await client.GetAsync("/api/v1/jobs?status=running"))).FirstOrDefault()) is not null,
            TimeSpan.FromSeconds(30),
            "the prediction's run");
        await PollAsync(client, $"/api/v1/jobs/{id}", j => (string?)j["stage"] == "processing");

        Assert.That((await client.PostAsync($"/api/v1/jobs/{id}/cancel", null)).StatusCode, Is.EqualTo(HttpStatusCode.Accepted));

        var response = await predicting;
        release.SetResult();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Conflict), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Jobs_WhenTemporalCancellationIsRequested_EndCancelledWithStoredResult()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var location = (await client.PostAsJsonAsync("/api/v1/jobs", Body(startPaused: true))).Headers.Location!.ToString();
        await PollAsync(client, location, j => Status(j) == "paused");
        var id = location.Split('/')[^1];

        await factory.Services.GetRequiredService<ITemporalClient>().GetWorkflowHandle(id).CancelAsync();

        var job = await PollAsync(client, location, j => Status(j) == "cancelled");
        Assert.That(job["errors"]!.AsArray().Select(e => (string)e!["type"]!), Does.Contain("Cancelled"));
        var events = await factory.Services.GetRequiredService<IEventModule>().ListAsync(new EventQuery(Source: $"/workflows/{id}"));
        Assert.That(events.Items.Select(e => e.Type), Does.Contain(IEventModule.WorkflowFailed));
    }

    [Test]
    public async Task Jobs_WhenListedInPages_ReturnEachJobOnceWhileNewJobsStart()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var earlier = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            earlier.Add(await SubmitPausedAsync(client));
        }

        var seen = new List<string>();
        var later = new List<string>();
        string? token = null;
        do
        {
            var page = await ReadAsync(await client.GetAsync(
                $"/api/v1/jobs?type=job&pageSize=3{(token is null ? "" : $"&pageToken={Uri.EscapeDataString(token)}")}"));
            seen.AddRange(Ids(page));
            token = (string?)page["nextPageToken"];
            later.Add(await SubmitPausedAsync(client));
        }
        while (token is not null);

        Assert.That(seen, Is.EqualTo(Enumerable.Reverse(earlier)), "newest first, each once, none of the jobs submitted meanwhile");
    }

    [TestCase("pageToken=not*base64", "pageToken")]
    [TestCase("pageToken=AAAAAAAAAAAAAAAA", "pageToken")]
    [TestCase("pageSize=0", "pageSize")]
    [TestCase("pageSize=501", "pageSize")]
    public async Task Jobs_WhenListingParametersAreInvalid_Return400NamingTheParameter(string parameters, string field)
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);

        var response = await client.GetAsync($"/api/v1/jobs?{parameters}");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await response.Content.ReadAsStringAsync());
        Assert.That((await ReadAsync(response))["errors"]!.AsObject().Select(kv => kv.Key), Is.EqualTo(new[] { field }));
    }

    [Test]
    public async Task Jobs_WhenAPageTokenIsReusedWithOtherFilters_Return400NamingPageToken()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        await SubmitPausedAsync(client);
        await SubmitPausedAsync(client);
        var first = await ReadAsync(await client.GetAsync("/api/v1/jobs?status=running&pageSize=1"));
        var token = Uri.EscapeDataString((string)first["nextPageToken"]!);

        var same = await client.GetAsync($"/api/v1/jobs?status=running&pageSize=1&pageToken={token}");
        var other = await client.GetAsync($"/api/v1/jobs?status=completed&pageSize=1&pageToken={token}");

        Assert.That(same.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ReadAsync(other))["errors"]!.AsObject().Select(kv => kv.Key), Is.EqualTo(new[] { "pageToken" }));
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
    public async Task Jobs_WhenInferenceTimesOutOnEveryAttempt_FallBackOrFailWithTheTimeoutRecorded()
    {
        var faults = new FaultyModelModule
        {
            Before = (op, _, _, ct) => op == "predict" ? Task.Delay(Timeout.Infinite, ct) : Task.CompletedTask
        };
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
    public async Task Predictions_WhenInferenceTimesOutOnEveryAttempt_Return422NamingTheStoredJobWithTheTimeout()
    {
        var faults = new FaultyModelModule
        {
            Before = (op, _, _, ct) => op == "predict" ? Task.Delay(Timeout.Infinite, ct) : Task.CompletedTask
        };
        using var factory = Factory(faults, ("Workflows:Timeouts:InferenceSeconds", "0.5"), ("Workflows:Retry:MaximumAttempts", "2"));
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync("/api/v1/predictions", Body());

        var problem = await ReadAsync(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity), problem.ToJsonString());
        var job = await PollAsync(client, (string)problem["instance"]!, j => Status(j) == "failed");
        var errors = job["errors"]!.AsArray();
        Assert.Multiple(() =>
        {
            Assert.That(faults.Calls("predict"), Is.EqualTo(2), "every attempt of the retry policy ran");
            Assert.That((string?)job["id"], Is.EqualTo((string?)problem["jobId"]));
            Assert.That(errors.Select(e => (string)e!["stage"]!), Does.Contain("inference"));
            Assert.That(errors.Select(e => (string)e!["type"]!), Does.Contain("Timeout"));
        });
    }

    [Test]
    public async Task Jobs_WhenInferenceStillFailsAfterRetries_FallBackToThePreviousStableVersion()
    {
        var faults = new FaultyModelModule
        {
            Before = (op, version, _, _) => op == "predict" && version == "1.1.0"
                ? throw new ModuleException(ErrorKind.Unavailable, "engine crashed")
                : Task.CompletedTask,
        };
        using var factory = Factory(faults, ("Workflows:Retry:MaximumAttempts", "2"));
        var client = await ClientAsync(factory);
        await TrainActiveAsync(factory, "1.1.0");

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

    [Test]
    public async Task Jobs_WhenTheDatabaseIsUnreachableOnEveryInferenceAttempt_FailWithoutMarkingTheVersionFailed()
    {
        var faults = new FaultyModelModule
        {
            Before = (op, version, _, _) => op == "predict" && version == "1.1.0"
                ? throw new Npgsql.NpgsqlException("Failed to connect to 127.0.0.1:1", new System.Net.Sockets.SocketException(111))
                : Task.CompletedTask,
        };
        using var factory = Factory(faults, ("Workflows:Retry:MaximumAttempts", "2"));
        var client = await ClientAsync(factory);
        await TrainActiveAsync(factory, "1.1.0");

        var location = (await client.PostAsJsonAsync("/api/v1/jobs", Body())).Headers.Location!.ToString();

        var job = await PollAsync(client, location, j => Status(j) is "failed" or "completed");
        var model = await factory.Services.GetRequiredService<IModelModule>().GetModelAsync(DemoModel);
        Assert.Multiple(() =>
        {
            Assert.That(Status(job), Is.EqualTo("failed"), job.ToJsonString());
            Assert.That(job["errors"]!.AsArray().Select(e => (string)e!["type"]!), Does.Contain("DatabaseUnavailableError"));
            Assert.That(job["errors"]!.AsArray().Select(e => (string)e!["stage"]!), Does.Not.Contain("fallback"));
            Assert.That(model.ActiveVersion, Is.EqualTo("1.1.0"), "a database outage says nothing about the version");
            Assert.That(model.Versions.Single(v => v.Version == "1.1.0").Status, Is.Not.EqualTo(ModelVersionStatus.Failed));
        });
    }

    /// <summary>Trains and activates another version of the demo model, beside 1.0.0.</summary>
    private static Task TrainActiveAsync(FormanovaFactory factory, string version)
    {
        const ModelTask task = ModelTask.BinaryClassification;
        return factory.Services.GetRequiredService<IModelModule>().TrainAsync(
            new TrainModelRequest(
                DemoModel,
                version,
                task,
                Formanova.Modules.Model.Training.SampleData.Columns(task),
                Seed: 11,
                Activate: true),
            Formanova.Modules.Model.Training.SampleData.RowsAsync(task, 300, 11));
    }

    /// <summary>A model module whose predictions wait until the returned source is completed.</summary>
    private static (FaultyModelModule Faults, TaskCompletionSource Release) HeldInference()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return (new FaultyModelModule
        {
            Before = (op, _, _, ct) => op == "predict" ? release.Task.WaitAsync(ct) : Task.CompletedTask
        }, release);
    }

    private static async Task<string> SubmitPausedAsync(HttpClient client) =>
        (await ReadAsync(await client.PostAsJsonAsync("/api/v1/jobs", Body(startPaused: true))))["id"]!.GetValue<string>();

    private static List<string> Ids(JsonObject page) => page["items"]!.AsArray().Select(i => (string)i!["id"]!).ToList();

    /// <summary>Submits a job and waits until it is inside the processing stage (inference held).</summary>
    private static async Task<string> StartHeldJobAsync(HttpClient client)
    {
        var location = (await client.PostAsJsonAsync("/api/v1/jobs", Body())).Headers.Location!.ToString();
        await PollAsync(client, location, j => (string?)j["stage"] == "processing");
        return location;
    }
}
