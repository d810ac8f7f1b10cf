using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Microsoft.Extensions.DependencyInjection;
using static Formanova.Tests.Workflows.Experiments.ExperimentHarness;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows.Experiments;

/// <summary>
/// Experiments end to end: POST /experiments starts the real ExperimentWorkflow on the embedded Temporal server, the
/// Model module routes predictions to the arms, feedback goes through POST /feedback, and the workflow looks every
/// second.
/// </summary>
[Category("Integration")]
public sealed class ExperimentWorkflowTests
{
    [Test]
    public async Task Experiment_WhenTheCandidateIsClearlyBetter_DecidesForItAndPromotesIt()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        await TrainCandidateAsync(factory);
        await CreateAsync(client, Experiment("better"));

        // The candidate is right every time, the control half the time.
        var random = new Random(1);
        var arms = await TrafficAsync(client, 200, arm => arm == "candidate" ? 1.0 : 0.5, random);
        var decided = await UntilAsync(client, "better", v => StoredStatus(v) != "running", "a decision");

        Assert.That(arms.Keys, Is.EquivalentTo(new[] { "control", "candidate" }), "predictions were routed to both arms");
        Assert.That(StoredStatus(decided), Is.EqualTo("decided"), decided.ToJsonString());
        Assert.That((string?)decided["experiment"]!["winner"], Is.EqualTo("candidate"));
        Assert.That((string?)decided["experiment"]!["reason"], Does.Contain($"promoted {Candidate}"));
        var model = await factory.Services.GetRequiredService<IModelModule>().GetModelAsync(DemoModel);
        Assert.That(model.ActiveVersion, Is.EqualTo(Candidate));
        var events = await factory.Services.GetRequiredService<IEventModule>()
            .ListAsync(new EventQuery(Types: [IEventModule.ExperimentStarted, IEventModule.ExperimentDecided]));
        Assert.That(events.Items.Select(e => e.Type), Is.EqualTo(new[] { IEventModule.ExperimentStarted, IEventModule.ExperimentDecided }));
    }

    [Test]
    public async Task Experiment_WhenBothArmsAreTheSame_DeclaresNoWinner()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        await TrainCandidateAsync(factory);

        // Three seeded runs of an A/A test (the store refuses two arms on one version; the outcomes make them the
        // same: each arm is right 70 % of the time) at α = 0.01: a false winner in any of them has probability at
        // most 3 %.
        foreach (var seed in new[] { 1, 2, 3 })
        {
            var name = $"same-{seed}";
            await CreateAsync(client, Experiment(name, minSamples: 20, alpha: 0.01));
            await TrafficAsync(client, 120, _ => 0.7, new Random(seed));
            var looked = await UntilAsync(
                client,
                name,
                v => StoredStatus(v) != "running" || (WithFeedback(v, "control") + WithFeedback(v, "candidate") >= 120 && Looks(v) >= 3),
                "three looks at every prediction's feedback");

            Assert.That(StoredStatus(looked), Is.EqualTo("running"), looked.ToJsonString());
            var stop = await client.PostAsJsonAsync($"/api/v1/experiments/{name}/stop", new { reason = "A/A run over" });
            Assert.That(stop.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
            await UntilAsync(client, name, v => StoredStatus(v) == "stopped", "the stop");
        }
    }

    [Test]
    public async Task Experiment_WhenACandidateBreaksAGuard_RollsBack()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        await TrainCandidateAsync(factory);

        // No prediction answers within a microsecond: the candidate's p95 latency breaks the guard once it has
        // answered enough predictions for a guard to fire.
        await CreateAsync(client, Experiment("slow", guards: new { maxP95LatencyMs = 0.001 }));
        await TrafficAsync(client, 80, _ => 0.7, new Random(4));
        var rolledBack = await UntilAsync(client, "slow", v => StoredStatus(v) != "running", "the rollback");

        Assert.That(StoredStatus(rolledBack), Is.EqualTo("rolledBack"), rolledBack.ToJsonString());
        Assert.That((string?)rolledBack["experiment"]!["reason"], Does.Contain("p95 latency"));
        var candidate = rolledBack["experiment"]!["arms"]!.AsArray().First(a => (string)a!["name"]! == "candidate")!;
        Assert.That((double)candidate["weight"]!, Is.EqualTo(0));
        var model = await factory.Services.GetRequiredService<IModelModule>().GetModelAsync(DemoModel);
        Assert.That(model.ActiveVersion, Is.EqualTo("1.0.0"));
    }

    [Test]
    public async Task Signals_WhenSent_PauseResumeSetWeightsAndStop()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        await TrainCandidateAsync(factory);
        await CreateAsync(client, Experiment("signals", minSamples: 100_000));

        var pause = await client.PostAsJsonAsync("/api/v1/experiments/signals/pause", new { reason = "checking" });
        Assert.That(pause.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await pause.Content.ReadAsStringAsync());
        var paused = await UntilAsync(client, "signals", v => StoredStatus(v) == "paused", "the pause");
        Assert.That((string?)paused["live"]!["state"], Is.EqualTo("paused"));

        await client.PostAsync("/api/v1/experiments/signals/resume", null);
        await UntilAsync(client, "signals", v => StoredStatus(v) == "running", "the resume");

        var unknownArm = await client.PutAsJsonAsync("/api/v1/experiments/signals/weights", new { weights = new { bogus = 1 } });
        Assert.That(unknownArm.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ReadAsync(unknownArm))["errors"]!.AsObject().ContainsKey("weights.bogus"), Is.True);
        var weights = await client.PutAsJsonAsync("/api/v1/experiments/signals/weights", new { weights = new { candidate = 0 } });
        Assert.That(weights.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await weights.Content.ReadAsStringAsync());
        await UntilAsync(
            client,
            "signals",
            v => v["experiment"]!["arms"]!.AsArray().Any(a => (string)a!["name"]! == "candidate" && (double)a["weight"]! == 0),
            "the candidate's weight to be 0");
        var looked = await UntilAsync(client, "signals", v => Looks(v) >= 1, "a look");
        Assert.That(looked["live"]!["last"]!["arms"]!.AsArray(), Has.Count.EqualTo(2));

        await client.PostAsJsonAsync("/api/v1/experiments/signals/stop", new { reason = "done" });
        var stopped = await UntilAsync(client, "signals", v => StoredStatus(v) == "stopped", "the stop");
        Assert.That((string?)stopped["experiment"]!["reason"], Is.EqualTo("done"));
        var again = await client.PostAsync("/api/v1/experiments/signals/pause", null);
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
    }

    [Test]
    public async Task Create_WhenTheRequestIsBadOrTaken_NamesTheFieldOrConflicts()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        await TrainCandidateAsync(factory);

        var noArms = await client.PostAsJsonAsync(
            "/api/v1/experiments", new { name = "bad", model = DemoModel, arms = Array.Empty<object>() });
        var badAlpha = await client.PostAsJsonAsync("/api/v1/experiments", Experiment("bad", alpha: 0.9));
        await CreateAsync(client, Experiment("taken", minSamples: 100_000));
        var taken = await client.PostAsJsonAsync("/api/v1/experiments", Experiment("taken"));

        Assert.That(noArms.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ReadAsync(noArms))["errors"]!.AsObject().ContainsKey("arms"), Is.True);
        Assert.That(badAlpha.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ReadAsync(badAlpha))["errors"]!.AsObject().ContainsKey("alpha"), Is.True);
        Assert.That(taken.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        var list = await client.GetFromJsonAsync<JsonArray>($"/api/v1/experiments?model={DemoModel}", Json);
        Assert.That(list!.Select(e => (string)e!["name"]!), Is.EqualTo(new[] { "taken" }));
    }

    [Test]
    public async Task Experiment_WhenTheHostRestartsMidway_KeepsItsCountsAndGoesOn()
    {
        using var state = new PersistedState();
        long before;
        int looksBefore;
        using (var first = state.Start(new FaultyModelModule()))
        {
            var client = await ClientAsync(first);
            await TrainCandidateAsync(first);
            await CreateAsync(client, Experiment("durable", minSamples: 100_000));
            await TrafficAsync(client, 60, _ => 0.7, new Random(5));
            var seen = await UntilAsync(
                client,
                "durable",
                v => WithFeedback(v, "control") + WithFeedback(v, "candidate") >= 60,
                "a look at the feedback");
            (before, looksBefore) = (WithFeedback(seen, "control") + WithFeedback(seen, "candidate"), Looks(seen));
        }

        using var second = state.Start(new FaultyModelModule());
        var again = await ClientAsync(second);
        var after = await UntilAsync(again, "durable", v => Looks(v) > looksBefore, "a look after the restart");

        Assert.That(StoredStatus(after), Is.EqualTo("running"));
        Assert.That(WithFeedback(after, "control") + WithFeedback(after, "candidate"), Is.EqualTo(before));
    }
}
