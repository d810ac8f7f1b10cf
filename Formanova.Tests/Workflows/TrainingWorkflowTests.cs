using System.Net;
using System.Net.Http.Json;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Microsoft.Extensions.DependencyInjection;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

[Category("Integration")]
public sealed class TrainingWorkflowTests
{
    private static object Run(
        long datasetId,
        string version = "1.0.0",
        object? minMetrics = null,
        bool activate = false,
        bool requireApproval = false,
        double? approvalTimeoutSeconds = null,
        string? trainer = null) =>
        new
        {
            model = "churn-wf",
            version,
            task = "binaryClassification",
            datasetId,
            minMetrics,
            activate,
            requireApproval,
            approvalTimeoutSeconds,
            trainer,
        };

    private static async Task<string> StartAsync(HttpClient client, object body)
    {
        var response = await client.PostAsJsonAsync("/api/v1/training-runs", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        return response.Headers.Location!.ToString();
    }

    [Test]
    public async Task TrainingRuns_WhenTheDatasetIsUnknownOrHasNoLabel_AnswerBeforeAnyRunStarts()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var unlabelled = await factory.Services.GetRequiredService<IDataModule>().CreateDatasetAsync(
            new CreateDatasetRequest("no-label", [new("x", ColumnType.Numeric)]));

        var unknown = await client.PostAsJsonAsync("/api/v1/training-runs", Run(987654));
        var noLabel = await client.PostAsJsonAsync("/api/v1/training-runs", Run(unlabelled.Id));
        var runs = await ReadAsync(await client.GetAsync("/api/v1/jobs?type=training"));

        Assert.Multiple(async () =>
        {
            Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), await unknown.Content.ReadAsStringAsync());
            Assert.That(noLabel.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity), await noLabel.Content.ReadAsStringAsync());
            Assert.That((await ReadAsync(noLabel))["errors"]!["datasetId"], Is.Not.Null);
            Assert.That(runs["items"]!.AsArray(), Is.Empty, "no workflow was started");
        });
    }

    [Test]
    public async Task TrainingRuns_WhenThresholdsPass_RegisterActivateAndEmitEvents()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 400);

        var location = await StartAsync(client, Run(dataset, minMetrics: new { auc = 0.5 }, activate: true));

        var run = await PollAsync(client, location, r => Status(r) is "completed" or "failed", TimeSpan.FromSeconds(120));
        Assert.That(Status(run), Is.EqualTo("completed"), run.ToJsonString());
        Assert.That((bool?)run["result"]!["activated"], Is.True);
        var model = await factory.Services.GetRequiredService<IModelModule>().GetModelAsync("churn-wf");
        Assert.That(model.ActiveVersion, Is.EqualTo("1.0.0"));
        Assert.That(model.Versions[0].Lineage.RunId, Is.EqualTo(location.Split('/')[^1]));
        var events = await factory.Services.GetRequiredService<IEventModule>()
            .ListAsync(new EventQuery(Source: $"/workflows/{location.Split('/')[^1]}"));
        Assert.That(events.Items.Select(e => e.Type), Is.EqualTo(new[]
        {
            IEventModule.WorkflowStarted,
            IEventModule.ModelRegistered,
            IEventModule.ModelActivated,
            IEventModule.WorkflowCompleted
        }));
        // Event data is camelCase, as the API is; JsonElement lookups are case-sensitive.
        Assert.That(events.Items[1].Data!.Value.GetProperty("trainRows").GetInt32(), Is.GreaterThan(0));
        Assert.That(events.Items[3].Data!.Value.GetProperty("outcome").GetString(), Is.EqualTo("activated"));
    }

    [Test]
    public async Task TrainingRuns_WhenTheHostCrashesWhileTrainingAndWhileAwaitingApproval_CompleteWithTheVersionRegisteredOnce()
    {
        var crashed = false;
        var faults = new FaultyModelModule
        {
            // The run's first training attempt hangs in the first host (no heartbeat); restarted hosts train normally.
            // The demo model's start-up training (1.0.0) goes through.
            Before = (op, version, _, ct) => op == "train" && version == "2.0.0" && !crashed
                ? Task.Delay(Timeout.Infinite, ct)
                : Task.CompletedTask,
        };
        using var state = new PersistedState(("Workflows:Training:HeartbeatTimeoutSeconds", "3"));
        string location;
        var first = state.Start(faults);
        try
        {
            var client = await ClientAsync(first);
            var dataset = await WorkflowDatasets.ChurnAsync(first.Services, 300);
            location = await StartAsync(client, Run(dataset, version: "2.0.0", requireApproval: true));
            await UntilAsync(() => Task.FromResult(faults.Calls("train") >= 2), TimeSpan.FromSeconds(60), "training to start");
        }
        finally
        {
            crashed = true;
            first.Dispose();
        }

        // Second host: the attempt lost with the first host times out on its heartbeat and trains again here.
        using (var second = state.Start(faults))
        {
            var waiting = await PollAsync(
                second.CreateClient(),
                location,
                r => (string?)r["stage"] == "awaiting-approval",
                TimeSpan.FromSeconds(120));
            Assert.That(waiting["progress"]!["trained"]!["metrics"]!.AsObject().ContainsKey("auc"), Is.True);
        }

        // Third host: the approval wait (a durable timer and a signal) survives the restart.
        using var third = state.Start(faults);
        var restarted = third.CreateClient();
        Assert.That(
            (await restarted.PostAsJsonAsync($"{location}/approve", new { by = "alice" })).StatusCode,
            Is.EqualTo(HttpStatusCode.NoContent));
        var run = await PollAsync(restarted, location, r => Status(r) is "completed" or "failed", TimeSpan.FromSeconds(60));

        Assert.That(Status(run), Is.EqualTo("completed"), run.ToJsonString());
        var model = await third.Services.GetRequiredService<IModelModule>().GetModelAsync("churn-wf");
        Assert.Multiple(() =>
        {
            Assert.That(model.Versions.Count(v => v.Version == "2.0.0"), Is.EqualTo(1));
            Assert.That(model.ActiveVersion, Is.EqualTo("2.0.0"));
            Assert.That(
                faults.Calls("train"),
                Is.EqualTo(3),
                "the demo model, then one attempt lost in the crash and one that completed; none after");
        });
        var events = await third.Services.GetRequiredService<IEventModule>()
            .ListAsync(new EventQuery(Source: $"/workflows/{location.Split('/')[^1]}"));
        Assert.That(events.Items.Count(e => e.Type == IEventModule.ModelRegistered), Is.EqualTo(1));
    }

    [Test]
    public async Task TrainingRuns_WhenAThresholdIsMissed_FailAndArchiveTheVersion()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 300);

        var location = await StartAsync(client, Run(dataset, minMetrics: new { auc = 0.9999 }, activate: true));

        var run = await PollAsync(client, location, r => Status(r) is "completed" or "failed", TimeSpan.FromSeconds(120));
        Assert.That(Status(run), Is.EqualTo("failed"));
        Assert.That((string?)run["error"], Does.Contain("auc").And.Contain("below the minimum"));
        var version = await factory.Services.GetRequiredService<IModelModule>().GetVersionAsync("churn-wf", "1.0.0");
        Assert.That(version.Status, Is.EqualTo(ModelVersionStatus.Archived));
    }

    [Test]
    public async Task TrainingRuns_WhenApprovalIsRequired_WaitForApproveThenActivate()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 300);
        var location = await StartAsync(client, Run(dataset, requireApproval: true));

        var waiting = await PollAsync(client, location, r => (string?)r["stage"] == "awaiting-approval", TimeSpan.FromSeconds(120));
        Assert.That(
            waiting["progress"]!["trained"]!["metrics"]!.AsObject().ContainsKey("auc"),
            Is.True,
            "metrics are queryable before approval");
        Assert.That((await factory.Services.GetRequiredService<IModelModule>().GetModelAsync("churn-wf")).ActiveVersion, Is.Null);

        var approve = await client.PostAsJsonAsync($"{location}/approve", new { by = "alice" });
        Assert.That(approve.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));

        var run = await PollAsync(client, location, r => Status(r) == "completed");
        Assert.That((string?)run["result"]!["outcome"], Is.EqualTo("activated"));
        Assert.That(
            (await factory.Services.GetRequiredService<IModelModule>().GetModelAsync("churn-wf")).ActiveVersion,
            Is.EqualTo("1.0.0"));
        Assert.That((await client.PostAsync($"{location}/approve", null)).StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
    }

    [Test]
    public async Task TrainingRuns_WhenRejectedOrTheDeadlinePasses_DoNotActivate()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 300);
        var rejected = await StartAsync(client, Run(dataset, requireApproval: true));
        var expired = await StartAsync(client, Run(dataset, version: "2.0.0", requireApproval: true, approvalTimeoutSeconds: 1));

        await PollAsync(client, rejected, r => (string?)r["stage"] == "awaiting-approval", TimeSpan.FromSeconds(120));
        Assert.That(
            (await client.PostAsJsonAsync($"{rejected}/reject", new { comment = "not now" })).StatusCode,
            Is.EqualTo(HttpStatusCode.NoContent));

        var first = await PollAsync(client, rejected, r => Status(r) == "completed");
        var second = await PollAsync(client, expired, r => Status(r) == "completed", TimeSpan.FromSeconds(120));
        Assert.Multiple(() =>
        {
            Assert.That((string?)first["result"]!["approval"], Is.EqualTo("rejected"));
            Assert.That((string?)second["result"]!["approval"], Is.EqualTo("expired"));
        });
        var model = await factory.Services.GetRequiredService<IModelModule>().GetModelAsync("churn-wf");
        Assert.That(model.ActiveVersion, Is.Null);
        Assert.That(model.Versions.Select(v => v.Status), Is.All.EqualTo(ModelVersionStatus.Archived));
    }

    [Test]
    public async Task TrainingRuns_WhenTheConfigurationIsInvalid_FailWithoutRetrying()
    {
        var faults = new FaultyModelModule();
        using var factory = Factory(faults, ("Model:Bootstrap:Enabled", "false"));
        var client = factory.CreateClient();
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 100);

        var location = await StartAsync(client, Run(dataset, trainer: "no-such-trainer"));

        var run = await PollAsync(client, location, r => Status(r) is "completed" or "failed", TimeSpan.FromSeconds(60));
        Assert.That(Status(run), Is.EqualTo("failed"));
        Assert.That(faults.Calls("train"), Is.EqualTo(1));
    }

    [Test]
    public async Task TrainingRuns_WhenCancelledWhileAwaitingApproval_EndCancelled()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 300);
        var location = await StartAsync(client, Run(dataset, requireApproval: true));
        await PollAsync(client, location, r => (string?)r["stage"] == "awaiting-approval", TimeSpan.FromSeconds(120));

        Assert.That((await client.PostAsync($"{location}/cancel", null)).StatusCode, Is.EqualTo(HttpStatusCode.Accepted));

        await PollAsync(client, location, r => Status(r) == "cancelled");
        var listed = await ReadAsync(await client.GetAsync("/api/v1/jobs?type=training&status=cancelled"));
        Assert.That(
            listed["items"]!.AsArray().Select(i => (string?)i!["id"]),
            Does.Contain(location.Split('/')[^1]),
            "closed CANCELED in Temporal");
    }

    [Test]
    public async Task TrainingRuns_WhenTheBodyIsInvalid_Return400()
    {
        using var factory = Factory(null, ("Model:Bootstrap:Enabled", "false"));
        var client = factory.CreateClient();

        var response = await client.PostAsJsonAsync("/api/v1/training-runs", new { model = "m", testFraction = 1.5 });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var errors = (await ReadAsync(response))["errors"]!.AsObject();
        Assert.That(errors.Select(kv => kv.Key), Is.SupersetOf(new[] { "version", "task", "datasetId", "testFraction" }));
    }
}
