using Formanova.Host.Workflows.Experiments;
using Formanova.Host.Workflows.Monitoring;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Exceptions;
using Temporalio.Worker;
using Temporalio.Worker.Interceptors;
using Temporalio.Workflows;

namespace Formanova.Tests.Workflows.Fast;

public sealed class MonitoringWorkflowFastTests : StubWorkerFixture
{
    private static MonitoringDecision Drifted(MonitoringRollout rollout, bool retrain, MonitoringExperiment? experiment = null) => new(
        new MonitoringCheck("churn", "1.0.0", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, "drift", 500,
            [new FeatureDrift("monthly_charges", 1.2, "significant", 500, 0, 0, 0.5, 0, true, ["featureDrift"])], 0.02, null,
            ["feature:monthly_charges:featureDrift"], []),
        [IEventModule.ModelDriftDetected],
        retrain ? StubInputs.Training() with { ScheduledMajor = 2 } : null,
        rollout,
        null,
        experiment);

    [Test]
    public async Task RunAsync_WhenDriftedWithRetrainAndPromote_TrainsAndPromotesAsChildrenInOneHistory()
    {
        var stubs = new StubActivities { Monitor = _ => Drifted(MonitoringRollout.Promote, retrain: true) };
        await WithWorkerAsync(stubs, async queue =>
        {
            // The replay test replays under this id, and the children's ids derive from it.
            var handle = await Client.StartWorkflowAsync(
                (ModelMonitoringWorkflow wf) => wf.RunAsync(new MonitoringRunInput("churn", StubInputs.Policy())),
                new WorkflowOptions("replay-ModelMonitoringWorkflow", queue));
            var result = await handle.GetResultAsync();

            Assert.That(result.Status, Is.EqualTo("drift"));
            Assert.That(result.RetrainedVersion, Does.StartWith("2."));
            Assert.That(result.Rollout, Is.EqualTo("promoted"));
            Assert.That(stubs.Calls, Does.Contain($"emit:{IEventModule.ModelDriftDetected}"));
            Assert.That(stubs.Calls, Does.Contain("train_model"));
            Assert.That(stubs.Calls, Does.Contain("switch_active_version"));
            Assert.That(stubs.Calls.Last(), Is.EqualTo($"emit:{IEventModule.ModelRetrained}"));
            await RecordedHistories.SaveIfRecordingAsync(handle, "ModelMonitoringWorkflow");
        });
    }

    [Test]
    public async Task RunAsync_WhenNothingIsCrossed_EmitsNothingAndTrainsNothing()
    {
        var stubs = new StubActivities();
        await WithWorkerAsync(stubs, async queue =>
        {
            var result = await Client.ExecuteWorkflowAsync(
                (ModelMonitoringWorkflow wf) => wf.RunAsync(new MonitoringRunInput("churn", StubInputs.Policy())),
                Start(queue, "monitoring"));

            Assert.That(result.Status, Is.EqualTo("ok"));
            Assert.That(result.RetrainedVersion, Is.Null);
            Assert.That(stubs.Calls, Is.EqualTo(new[] { "check_model" }));
        });
    }

    [Test]
    public async Task RunAsync_WhenRetrainingForApproval_LeavesTheVersionRegisteredAndSaysSo()
    {
        var stubs = new StubActivities { Monitor = _ => Drifted(MonitoringRollout.Approval, retrain: true) };
        await WithWorkerAsync(stubs, async queue =>
        {
            var result = await Client.ExecuteWorkflowAsync(
                (ModelMonitoringWorkflow wf) => wf.RunAsync(new MonitoringRunInput("churn", StubInputs.Policy())),
                Start(queue, "monitoring"));

            Assert.That(result.Rollout, Is.EqualTo("awaiting approval"));
            Assert.That(stubs.Calls, Does.Not.Contain("switch_active_version"));
            Assert.That(stubs.Calls, Does.Not.Contain("activate_model"));
        });
    }

    [Test]
    public async Task RunAsync_WhenRetrainingForAnExperiment_StartsTheExperimentAsAChildThatOutlivesTheRun()
    {
        var experiment = new MonitoringExperiment(MinSamplesPerArm: 50);
        var stubs = new StubActivities { Monitor = _ => Drifted(MonitoringRollout.Experiment, retrain: true, experiment) };
        // The child would look every 200 ms forever: an hour between looks keeps it quiet once abandoned.
        stubs.ExperimentPlan = name => ExperimentStubs.Plan(name, TimeSpan.FromHours(1));
        await WithWorkerAsync(stubs, async queue =>
        {
            var handle = await Client.StartWorkflowAsync(
                (ModelMonitoringWorkflow wf) => wf.RunAsync(new MonitoringRunInput("churn", StubInputs.Policy())),
                new WorkflowOptions("replay-ModelMonitoringWorkflow.experiment", queue));
            var result = await handle.GetResultAsync();

            var name = $"churn-{result.RetrainedVersion!.Replace('.', '-')}";
            Assert.That(result.Rollout, Is.EqualTo($"experiment {name}"));
            Assert.That(stubs.Calls, Does.Contain($"create_rollout_experiment:1.0.0->{result.RetrainedVersion}"));
            Assert.That(stubs.Calls, Does.Not.Contain("switch_active_version"));
            var child = await Client.GetWorkflowHandle($"experiment-{name}").DescribeAsync();
            Assert.That(child.Status, Is.EqualTo(WorkflowExecutionStatus.Running), "abandoned, not cancelled, when the run ended");
            await RecordedHistories.SaveIfRecordingAsync(handle, "ModelMonitoringWorkflow.experiment");
            await Client.GetWorkflowHandle($"experiment-{name}").TerminateAsync("test over");
        });
    }

    [Test]
    public async Task RunAsync_WhenTheModelHasALiveExperiment_LeavesTheVersionRegisteredAndSaysWhy()
    {
        var stubs = new StubActivities
        {
            Monitor = _ => Drifted(MonitoringRollout.Experiment, retrain: true),
            RolloutExperiment = input => new(input.Name, false, "churn already has the running experiment 'old'; left registered."),
        };
        await WithWorkerAsync(stubs, async queue =>
        {
            var result = await Client.ExecuteWorkflowAsync(
                (ModelMonitoringWorkflow wf) => wf.RunAsync(new MonitoringRunInput("churn", StubInputs.Policy())),
                Start(queue, "monitoring"));

            Assert.That(result.Rollout, Is.EqualTo("registered"));
            Assert.That(result.Note, Does.Contain("running experiment 'old'"));
            Assert.That(stubs.Calls, Does.Not.Contain("read_experiment"), "no experiment workflow");
        });
    }

    [Test]
    public async Task RunAsync_WhenTheExperimentsWorkflowCannotStart_StopsTheStoredExperimentAndFails()
    {
        var stubs = new StubActivities { Monitor = _ => Drifted(MonitoringRollout.Experiment, retrain: true) };
        var queue = NewQueue();
        void Configure(TemporalWorkerOptions options)
        {
            Register(options, stubs);
            options.Interceptors = [new RefusedExperimentStart()];
        }

        await RunWorkerAsync(queue, Configure, async () =>
        {
            var handle = await Client.StartWorkflowAsync(
                (ModelMonitoringWorkflow wf) => wf.RunAsync(new MonitoringRunInput("churn", StubInputs.Policy())),
                Start(queue, "monitoring"));

            var failed = Assert.ThrowsAsync<WorkflowFailedException>(() => handle.GetResultAsync())!;

            Assert.That(failed.InnerException?.Message, Does.Contain(RefusedExperimentStart.Message));
            Assert.That(stubs.Calls, Does.Contain("status:Stopped"), "the stored experiment routes nothing without its workflow");
            Assert.That(stubs.Calls, Does.Not.Contain("read_experiment"), "no experiment workflow");
        });
    }

    /// <summary>Fails the start of an experiment's workflow the way the server's refusal would reach workflow code.</summary>
    private sealed class RefusedExperimentStart : IWorkerInterceptor
    {
        public const string Message = "The child's start was refused.";

        public WorkflowInboundInterceptor InterceptWorkflow(WorkflowInboundInterceptor nextInterceptor) => new Inbound(nextInterceptor);

        private sealed class Inbound(WorkflowInboundInterceptor next) : WorkflowInboundInterceptor(next)
        {
            public override void Init(WorkflowOutboundInterceptor outbound) => base.Init(new Outbound(outbound));
        }

        private sealed class Outbound(WorkflowOutboundInterceptor next) : WorkflowOutboundInterceptor(next)
        {
            public override Task<ChildWorkflowHandle<TWorkflow, TResult>> StartChildWorkflowAsync<TWorkflow, TResult>(
                StartChildWorkflowInput input) =>
                input.Workflow == nameof(ExperimentWorkflow)
                    ? Task.FromException<ChildWorkflowHandle<TWorkflow, TResult>>(new ApplicationFailureException(Message))
                    : base.StartChildWorkflowAsync<TWorkflow, TResult>(input);
        }
    }
}
