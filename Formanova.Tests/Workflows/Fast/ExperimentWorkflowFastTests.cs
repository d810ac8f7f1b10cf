using Formanova.Host.Workflows.Experiments;
using Formanova.Modules.Event;
using Temporalio.Client;
using Temporalio.Exceptions;

namespace Formanova.Tests.Workflows.Fast;

public sealed class ExperimentWorkflowFastTests : StubWorkerFixture
{
    [Test]
    public async Task RunAsync_WhenACandidateWins_PromotesItThroughTheSagaAndDecides()
    {
        var stubs = new StubActivities
        {
            Look = (_, n) => n < 2
                ? ExperimentStubs.Look(LookVerdict.Continue, null, n == 0 ? 0.4 : 0.25)
                : ExperimentStubs.Look(LookVerdict.CandidateWins, "candidate", 0.01),
        };
        await WithWorkerAsync(stubs, async queue =>
        {
            var handle = await Client.StartWorkflowAsync(
                (ExperimentWorkflow wf) => wf.RunAsync(new ExperimentInput("exp", StubInputs.Policy())),
                Start(queue, "experiment"));
            var state = await handle.GetResultAsync();

            Assert.That(state.State, Is.EqualTo("decided"));
            Assert.That(state.Winner, Is.EqualTo("candidate"));
            Assert.That(state.Looks, Is.EqualTo(3));
            Assert.That(state.Promotion, Is.EqualTo("promoted 1.1.0"));
            Assert.That(state.PValues["candidate"], Is.EqualTo(0.01));
            var steps = stubs.Calls.Where(c => !c.StartsWith("evaluate", StringComparison.Ordinal))
                .Where(c => !c.StartsWith("persist", StringComparison.Ordinal));
            Assert.That(steps, Is.EqualTo(new[]
            {
                "read_experiment", $"emit:{IEventModule.ExperimentStarted}", "check_model_load", "warm_model", "switch_active_version",
                "smoke_test", $"emit:{IEventModule.ModelActivated}", "status:Decided:candidate", $"emit:{IEventModule.ExperimentDecided}",
            }));

            // Each look carries the running p-values of the looks before it.
            Assert.That(stubs.Evaluations.Select(e => e.PValues.GetValueOrDefault("candidate", 1)), Is.EqualTo(new[] { 1, 0.4, 0.25 }));
            await RecordedHistories.SaveIfRecordingAsync(handle, "ExperimentWorkflow");
        });
    }

    [Test]
    public async Task RunAsync_WhenThePromotionFails_DecidesAndReportsTheFailure()
    {
        var stubs = new StubActivities
        {
            Look = (_, _) => ExperimentStubs.Look(LookVerdict.CandidateWins, "candidate", 0.01),
            PromotionStep = step => step == "smoke_test"
                ? throw new ApplicationFailureException("no usable answer", "ValueError", nonRetryable: true)
                : Task.CompletedTask,
        };
        await WithWorkerAsync(stubs, async queue =>
        {
            var state = await Client.ExecuteWorkflowAsync(
                (ExperimentWorkflow wf) => wf.RunAsync(new ExperimentInput("exp", StubInputs.Policy())),
                Start(queue, "experiment"));

            Assert.That(state.State, Is.EqualTo("decided"));
            Assert.That(state.Promotion, Does.StartWith("promotion failed"));
            Assert.That(state.Reason, Does.Contain("promotion failed"));
            Assert.That(stubs.Calls, Does.Contain("restore_previous_version"));
            Assert.That(stubs.Calls, Does.Contain("status:Decided:candidate"));
        });
    }

    [Test]
    public async Task RunAsync_WhenAGuardBreaks_TakesTheCandidateOutAndRollsBack()
    {
        var stubs = new StubActivities { Look = (_, _) => ExperimentStubs.Look(LookVerdict.GuardBreached, "candidate") };
        await WithWorkerAsync(stubs, async queue =>
        {
            var state = await Client.ExecuteWorkflowAsync(
                (ExperimentWorkflow wf) => wf.RunAsync(new ExperimentInput("exp", StubInputs.Policy())),
                Start(queue, "experiment"));

            Assert.That(state.State, Is.EqualTo("rolledBack"));
            Assert.That(stubs.Calls.TakeLast(3), Is.EqualTo(new[]
            {
                "weights:candidate=0", "status:RolledBack", $"emit:{IEventModule.ExperimentRolledBack}",
            }));
            Assert.That(stubs.Calls, Does.Not.Contain("check_model_load"));
        });
    }

    [Test]
    public async Task RunAsync_WhenSignalled_PausesResumesSetsWeightsAndStops()
    {
        var stubs = new StubActivities { ExperimentPlan = name => ExperimentStubs.Plan(name, TimeSpan.FromMinutes(10)) };
        await WithWorkerAsync(stubs, async queue =>
        {
            var handle = await Client.StartWorkflowAsync(
                (ExperimentWorkflow wf) => wf.RunAsync(new ExperimentInput("exp", StubInputs.Policy())),
                Start(queue, "experiment"));

            await handle.SignalAsync(wf => wf.PauseAsync("investigating"));
            await WaitUntilAsync(async () => (await handle.QueryAsync(wf => wf.GetStatus())).State == "paused");
            var weights = new Dictionary<string, double> { ["candidate"] = 0.25 };
            await handle.SignalAsync(wf => wf.SetWeightsAsync(weights));
            await handle.SignalAsync(wf => wf.ResumeAsync());
            await WaitUntilAsync(async () => (await handle.QueryAsync(wf => wf.GetStatus())).State == "running");
            await handle.SignalAsync(wf => wf.StopAsync("enough"));
            var state = await handle.GetResultAsync();

            Assert.That(state.State, Is.EqualTo("stopped"));
            Assert.That(state.Reason, Is.EqualTo("enough"));
            var changes = stubs.Calls
                .Where(c => c.StartsWith("status", StringComparison.Ordinal) || c.StartsWith("weights", StringComparison.Ordinal))
                .ToList();
            Assert.That(
                changes,
                Is.EqualTo(new[] { "status:Paused", "weights:candidate=0.25", "status:Running", "status:Stopped" }));
            Assert.That(stubs.Calls.Last(), Is.EqualTo($"emit:{IEventModule.ExperimentStopped}"));
        });
    }

    [Test]
    public async Task RunAsync_WhenACanary_StepsTheCandidateShareOnItsSchedule()
    {
        var stubs = new StubActivities
        {
            ExperimentPlan = name => ExperimentStubs.Plan(name, TimeSpan.FromSeconds(30), [0.1, 0.5, 1.0]),
        };
        await WithWorkerAsync(stubs, async queue =>
        {
            var handle = await Client.StartWorkflowAsync(
                (ExperimentWorkflow wf) => wf.RunAsync(new ExperimentInput("exp", StubInputs.Policy())),
                Start(queue, "experiment"));

            await WaitUntilAsync(async () => (await handle.QueryAsync(wf => wf.GetStatus())).CanaryStep == 2);
            await handle.SignalAsync(wf => wf.StopAsync(null));
            await handle.GetResultAsync();

            Assert.That(stubs.Weights.Select(w => w["candidate"]), Is.EqualTo(new[] { 0.1, 0.5, 1.0 }));
            Assert.That(stubs.Weights.Select(w => w["control"]), Is.EqualTo(new[] { 0.9, 0.5, 0.0 }));
        });
    }
}
