using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Host.Monitoring;

/// <summary>
/// Monitoring through the real host, the embedded Temporal server and each database provider: a model trained by a
/// training run, its predictions counted into live windows, checks run by ModelMonitoringWorkflow.
/// </summary>
[Category("Integration")]
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class ModelMonitoringTests(DatabaseProvider provider)
{
    private HostedDatabase _host = null!;
    private HttpClient _client = null!;
    private long _dataset;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await HostedDatabase.StartAsync(provider, Settings());
        _client = await ClientAsync(_host.Factory);
        _dataset = await WorkflowDatasets.ChurnAsync(_host.Factory.Services, 600);
    }

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [Test]
    public async Task Check_WhenTheInputsShiftHalfway_FindsDriftInThatFeatureRetrainsAndLeavesTheNewVersionForApproval()
    {
        const string model = "mon-drift";
        await TrainAsync(model);
        await PutPolicyAsync(model, new { retrain = true, rollout = "approval", cooldownMinutes = 0 });
        await PredictAsync(model, seed: 11, shift: 0);
        var before = await CheckAsync(model);
        await PredictAsync(model, seed: 12, shift: 150);

        var check = await CheckAsync(model);

        Assert.That((string)before["status"]!, Is.EqualTo("ok"), before.ToJsonString());
        Assert.That((string)check["status"]!, Is.EqualTo("drift"), check.ToJsonString());
        var features = check["features"]!.AsArray();
        Assert.Multiple(() =>
        {
            Assert.That((string)features[0]!["feature"]!, Is.EqualTo("monthly_charges"), "the most drifted first");
            Assert.That((double)features[0]!["psi"]!, Is.GreaterThan(0.25));
            Assert.That(features.Skip(1).Select(f => (double)f!["psi"]!), Has.All.LessThan(0.25), "only the shifted feature drifted");
            Assert.That(check["breaches"]!.AsArray().Select(b => (string)b!), Does.Contain("feature:monthly_charges:featureDrift"));
            Assert.That(
                check["actions"]!.AsArray().Select(a => (string)a!),
                Is.EqualTo(new[] { "emit:MODEL_DRIFT_DETECTED", "retrain:approval" }));
        });

        var retrained = await UntilEventAsync("MODEL_RETRAINED", model);
        var version = (string)retrained["data"]!["version"]!;
        var registered = await ReadAsync(await _client.GetAsync($"/api/v1/models/{model}/versions/{version}"));
        var drift = await UntilEventAsync("MODEL_DRIFT_DETECTED", model);
        Assert.Multiple(() =>
        {
            Assert.That((bool)retrained["data"]!["approvalNeeded"]!, Is.True);
            Assert.That(version, Does.StartWith("1."), "the same major as the drifted 1.0.0");
            Assert.That((string)registered["status"]!, Is.EqualTo("registered"), "left for approval, not activated");
            Assert.That((string)drift["data"]!["features"]![0]!["feature"]!, Is.EqualTo("monthly_charges"));
        });
    }

    [Test]
    public async Task Check_WhenDriftedWithAnExperimentRollout_StartsACanaryOfTheNewVersionAgainstTheOldActiveOne()
    {
        const string model = "mon-canary";
        await TrainAsync(model);
        await PutPolicyAsync(model, new
        {
            retrain = true,
            rollout = "experiment",
            cooldownMinutes = 0,
            experiment = new
            {
                mode = "canary",
                canary = new { steps = new[] { 0.1, 0.5 }, stepInterval = "01:00:00" },
                minSamplesPerArm = 50,
            },
        });
        await PredictAsync(model, seed: 31, shift: 150);

        var check = await CheckAsync(model);

        Assert.That(check["actions"]!.AsArray().Select(a => (string)a!), Does.Contain("retrain:experiment"), check.ToJsonString());
        var retrained = await UntilEventAsync("MODEL_RETRAINED", model);
        var version = (string)retrained["data"]!["version"]!;
        var rollout = (string)retrained["data"]!["rollout"]!;
        Assert.That(rollout, Does.StartWith("experiment "), retrained.ToJsonString());
        var name = rollout["experiment ".Length..];
        var view = await ReadAsync(await _client.GetAsync($"/api/v1/experiments/{name}"));
        var experiment = view["experiment"]!;
        var active = await ReadAsync(await _client.GetAsync($"/api/v1/models/{model}"));
        Assert.Multiple(() =>
        {
            Assert.That((string)experiment["status"]!, Is.EqualTo("running"), view.ToJsonString());
            Assert.That((string)experiment["mode"]!, Is.EqualTo("canary"));
            Assert.That((long)experiment["minSamplesPerArm"]!, Is.EqualTo(50));
            Assert.That((string)experiment["arms"]![0]!["version"]!, Is.EqualTo("1.0.0"), "the control: the version active before");
            Assert.That((bool)experiment["arms"]![0]!["control"]!, Is.True);
            Assert.That((string)experiment["arms"]![1]!["version"]!, Is.EqualTo(version), "the candidate: the retrained version");
            Assert.That((double)experiment["arms"]![1]!["weight"]!, Is.EqualTo(0.1), "the canary's first step");
            Assert.That((string?)view["live"]?["state"], Is.EqualTo("running"), "its workflow outlives the monitoring run");
            Assert.That((string)active["activeVersion"]!, Is.EqualTo("1.0.0"), "the experiment decides, not the retraining");
        });
        await _client.PostAsJsonAsync($"/api/v1/experiments/{name}/stop", new { reason = "test over" });
    }

    [Test]
    public async Task Check_WhenDriftedWithAPromoteRollout_PromotesTheRetrainedVersionThroughTheSaga()
    {
        const string model = "mon-promote";
        await TrainAsync(model);
        await PutPolicyAsync(model, new { retrain = true, rollout = "promote", cooldownMinutes = 0 });
        await PredictAsync(model, seed: 41, shift: 150);

        var check = await CheckAsync(model);

        Assert.That(check["actions"]!.AsArray().Select(a => (string)a!), Does.Contain("retrain:promote"), check.ToJsonString());
        var retrained = await UntilEventAsync("MODEL_RETRAINED", model);
        var version = (string)retrained["data"]!["version"]!;
        var active = await ReadAsync(await _client.GetAsync($"/api/v1/models/{model}"));
        var previous = await ReadAsync(await _client.GetAsync($"/api/v1/models/{model}/versions/1.0.0"));
        Assert.Multiple(() =>
        {
            Assert.That((string)retrained["data"]!["rollout"]!, Is.EqualTo("promoted"), retrained.ToJsonString());
            Assert.That((bool)retrained["data"]!["approvalNeeded"]!, Is.False);
            Assert.That((string)active["activeVersion"]!, Is.EqualTo(version), "the saga switched to the retrained version");
            Assert.That((string)previous["status"]!, Is.Not.EqualTo("active"));
        });
    }

    [Test]
    public async Task Check_WhenTheTrainingRunsHistoryIsGone_RetrainsWithTheVersionsStoredSettingsAndSaysSo()
    {
        const string model = "mon-expired";
        await TrainAsync(model);
        var trained = await ReadAsync(await _client.GetAsync($"/api/v1/models/{model}/versions/1.0.0"));
        // Temporal's retention has removed the run: the version names a run Temporal no longer knows.
        await using (var connection = await _host.Database.Database.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("UPDATE model_versions SET run_id = 'training-expired-0000' WHERE name = 'mon-expired'");
        }

        await PutPolicyAsync(model, new { retrain = true, rollout = "approval", cooldownMinutes = 0 });
        await PredictAsync(model, seed: 51, shift: 150);

        var check = await CheckAsync(model);

        Assert.That(check["actions"]!.AsArray().Select(a => (string)a!), Does.Contain("retrain:approval"), check.ToJsonString());
        Assert.That((string?)check["note"], Does.Contain("no longer in Temporal's history").And.Contain("stored settings"));
        var retrained = await UntilEventAsync("MODEL_RETRAINED", model);
        var version = (string)retrained["data"]!["version"]!;
        var registered = await ReadAsync(await _client.GetAsync($"/api/v1/models/{model}/versions/{version}"));
        Assert.Multiple(() =>
        {
            Assert.That((string)registered["status"]!, Is.EqualTo("registered"));
            Assert.That((string)registered["trainer"]!, Is.EqualTo((string)trained["trainer"]!), "the stored trainer");
            Assert.That((string)registered["lineage"]!["datasetId"]!, Is.EqualTo(_dataset.ToString(CultureInfo.InvariantCulture)));
            Assert.That(
                registered["columns"]!.AsArray().Select(c => (string)c!["name"]!),
                Is.EquivalentTo(trained["columns"]!.AsArray().Select(c => (string)c!["name"]!)),
                "the columns the version left out stay out");
        });
    }

    [Test]
    public async Task Check_WhenTheTrafficIsLikeTheTrainingData_FiresNothingOverRepeatedSeededRuns()
    {
        const string model = "mon-stable";
        await TrainAsync(model);
        await PutPolicyAsync(model, new { retrain = true, rollout = "promote", cooldownMinutes = 0 });

        foreach (var seed in new[] { 21, 22, 23 })
        {
            await PredictAsync(model, seed, shift: 0);
            var check = await CheckAsync(model);

            Assert.That((string)check["status"]!, Is.EqualTo("ok"), check.ToJsonString());
            Assert.That(check["breaches"]!.AsArray(), Is.Empty);
            Assert.That(check["actions"]!.AsArray(), Is.Empty);
        }

        var monitoring = await ReadAsync(await _client.GetAsync($"/api/v1/models/{model}/monitoring"));
        var events = await ReadAsync(await _client.GetAsync("/api/v1/events?type=MODEL_DRIFT_DETECTED&type=MODEL_RETRAINED&limit=1000"));
        Assert.Multiple(() =>
        {
            Assert.That(monitoring["checks"]!.AsArray(), Has.Count.EqualTo(3));
            Assert.That((string)monitoring["schedule"]!, Is.EqualTo($"model-monitoring-{model}"));
            Assert.That(monitoring["nextChecks"]!.AsArray(), Is.Not.Empty);
            Assert.That(events["items"]!.AsArray().Where(e => (string?)e!["data"]?["model"] == model), Is.Empty);
        });
    }

    [Test]
    public async Task Check_WhenABatchSkipsTheCache_CountsEveryRowOfIt()
    {
        const string model = "mon-nocache";
        await TrainAsync(model);
        await PutPolicyAsync(model, new { });

        await PredictAsync(model, seed: 31, shift: 0, useCache: false);
        await PredictAsync(model, seed: 32, shift: 0);
        var check = await CheckAsync(model);

        Assert.That((long)check["rows"]!, Is.EqualTo(600), check.ToJsonString());
    }

    [Test]
    public async Task Check_WhenTheVersionHasNoProfile_SaysSoInsteadOfFailing()
    {
        const string model = "mon-old";
        await TrainAsync(model);
        // A version trained before profiles: its stored report without the profile.
        await using (var connection = await _host.Database.Database.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("UPDATE model_versions SET training_report_json = NULL WHERE name = 'mon-old'");
        }

        await PutPolicyAsync(model, new { });

        var check = await CheckAsync(model);

        Assert.That((string)check["status"]!, Is.EqualTo("noProfile"), check.ToJsonString());
        Assert.That((string)check["note"]!, Does.Contain("no reference profile"));
    }

    [TestCase("""{"intervalMinutes":0}""", "intervalMinutes")]
    [TestCase("""{"windowMinutes":100000}""", "windowMinutes")]
    [TestCase("""{"thresholds":{"featureDrift":-1}}""", "thresholds.featureDrift")]
    [TestCase("""{"thresholds":{"minRows":0}}""", "thresholds.minRows")]
    [TestCase("""{"actions":{"retrain":true,"rollout":"approval","experiment":{}}}""", "actions.experiment")]
    [TestCase("""{"actions":{"rollout":"experiment"}}""", "actions.rollout")]
    [TestCase("""{"actions":{"rollout":"promote"}}""", "actions.rollout")]
    [TestCase("""{"actions":{"retrain":true,"trainer":" "}}""", "actions.trainer")]
    public async Task PutPolicy_WhenAFieldIsInvalid_Answers400NamingIt(string body, string field)
    {
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");

        var response = await _client.PutAsync($"/api/v1/models/{DemoModel}/monitoring/policy", content);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var problem = await ReadAsync(response);
        Assert.That(problem["errors"]!.AsObject().Select(e => e.Key), Does.Contain(field), problem.ToJsonString());
    }

    [TestCase("""{"mode":"bogus"}""", "$.actions.experiment.mode")]
    [TestCase("""{"mode":"canary"}""", "actions.experiment.canary")]
    [TestCase("""{"mode":"canary","canary":{"steps":[0.5,0.2],"stepInterval":"00:10:00"}}""", "actions.experiment.canary.steps[1]")]
    [TestCase("""{"candidateWeight":0}""", "actions.experiment.candidateWeight")]
    [TestCase("""{"alpha":0.9}""", "actions.experiment.alpha")]
    [TestCase("""{"minSamplesPerArm":1}""", "actions.experiment.minSamplesPerArm")]
    [TestCase("""{"guards":{"maxErrorRate":2}}""", "actions.experiment.guards.maxErrorRate")]
    [TestCase("""{"evaluationInterval":"00:10:00","maxDuration":"00:01:00"}""", "actions.experiment.maxDuration")]
    public Task PutPolicy_WhenAnExperimentRolloutFieldIsInvalid_Answers400NamingIt(string experiment, string field) =>
        PutPolicy_WhenAFieldIsInvalid_Answers400NamingIt(
            """{"actions":{"retrain":true,"rollout":"experiment","experiment":""" + experiment + "}}", field);

    [Test]
    public async Task GetMonitoring_WhenLimitOrPeriodIsInvalid_Answers400NamingIt()
    {
        var limit = await _client.GetAsync($"/api/v1/models/{DemoModel}/monitoring?limit=0");
        var period = await _client.GetAsync($"/api/v1/models/{DemoModel}/monitoring?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z");

        Assert.That(limit.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ReadAsync(limit))["errors"]!.AsObject().Select(e => e.Key), Does.Contain("limit"));
        Assert.That(period.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ReadAsync(period))["errors"]!.AsObject().Select(e => e.Key), Does.Contain("until"));
    }

    [Test]
    public async Task PolicyEndpoints_WhenThereIsNoPolicy_Answer404()
    {
        var get = await _client.GetAsync("/api/v1/models/demo-churn/monitoring/policy");
        var check = await _client.PostAsync("/api/v1/models/demo-churn/monitoring/check", null);
        var unknown = await _client.PutAsJsonAsync("/api/v1/models/no-such-model/monitoring/policy", new { });

        Assert.Multiple(() =>
        {
            Assert.That(get.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(check.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        });
    }

    private async Task TrainAsync(string model)
    {
        var response = await _client.PostAsJsonAsync("/api/v1/training-runs", new
        {
            model,
            version = "1.0.0",
            task = "binaryClassification",
            datasetId = _dataset,
            activate = true,
            excludeColumns = new[] { "feedback" },
        });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var run = await PollAsync(
            _client, response.Headers.Location!.ToString(), r => Status(r) is "completed" or "failed", TimeSpan.FromSeconds(180));
        Assert.That(Status(run), Is.EqualTo("completed"), run.ToJsonString());
    }

    private async Task PutPolicyAsync(string model, object actions)
    {
        var response = await _client.PutAsJsonAsync($"/api/v1/models/{model}/monitoring/policy", new
        {
            intervalMinutes = 60,
            windowMinutes = 60,
            thresholds = new { minRows = 200 },
            actions,
        });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// 300 predictions of the churn sample with <paramref name="seed"/>, monthly charges moved by <paramref name="shift"/>.
    /// </summary>
    private async Task PredictAsync(string model, int seed, double shift, bool useCache = true)
    {
        var rows = SampleData.Rows(ModelTask.BinaryClassification, 300, seed)
            .Select(row => SampleData.Input(row, ModelTask.BinaryClassification))
            .Select(input =>
            {
                input["monthly_charges"] = (double)input["monthly_charges"]! + shift;
                input.Remove("feedback");
                return input;
            })
            .ToList();
        var response = await _client.PostAsJsonAsync($"/api/v1/models/{model}/predict/batch", new { rows, useCache });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonObject> CheckAsync(string model)
    {
        var response = await _client.PostAsync($"/api/v1/models/{model}/monitoring/check", null);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return (JsonObject)(await ReadAsync(response))["check"]!;
    }

    private async Task<JsonObject> UntilEventAsync(string type, string model)
    {
        JsonObject? found = null;
        await UntilAsync(async () =>
        {
            var page = await ReadAsync(await _client.GetAsync($"/api/v1/events?type={type}&limit=1000"));
            found = page["items"]!.AsArray().OfType<JsonObject>().FirstOrDefault(e => (string?)e["data"]?["model"] == model);
            return found is not null;
        }, TimeSpan.FromSeconds(180), $"{type} for {model}");
        return found!;
    }
}
