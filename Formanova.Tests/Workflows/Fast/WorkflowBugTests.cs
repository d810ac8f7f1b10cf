using Formanova.Host.Workflows.Common;
using Formanova.Host.Workflows.Promotion;
using Formanova.Modules.Event;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Workflows;

namespace Formanova.Tests.Workflows.Fast;

/// <summary>
/// A bug in workflow code (an exception that is not a Temporal failure) fails the workflow task, not the run
/// (<see cref="RunFailure"/>): the run stays open, retrying the task, and a worker with the fix completes it.
/// </summary>
public sealed class WorkflowBugTests : StubWorkerFixture
{
    [Test]
    public async Task RunAsync_WhenTheSagaHitsABug_FailsTheWorkflowTaskAndLeavesTheRunRunningWithoutCompensating()
    {
        var stubs = new StubActivities { SwitchAnswersNull = true };
        await WithWorkerAsync(stubs, async queue =>
        {
            var handle = await Client.StartWorkflowAsync(
                (ModelPromotionSaga wf) => wf.RunAsync(StubInputs.Promotion()),
                Start(queue, "promotion"));

            await UntilEventAsync(handle, EventType.WorkflowTaskFailed);

            var failed = (await handle.FetchHistoryAsync()).Events.First(e => e.EventType == EventType.WorkflowTaskFailed);
            Assert.That(failed.WorkflowTaskFailedEventAttributes.Failure.Message, Does.Contain("Object reference"));
            Assert.That((await handle.DescribeAsync()).Status, Is.EqualTo(WorkflowExecutionStatus.Running));
            Assert.That(stubs.Calls, Does.Not.Contain("evict_warmed_model"));
            Assert.That(stubs.Calls, Does.Not.Contain($"emit:{IEventModule.ModelPromotionRolledBack}"));
            await handle.TerminateAsync("test over");
        });
    }

    [Test]
    public async Task RunAsync_WhenTheBugIsFixedInANewWorker_TheRunCarriesOnFromItsHistoryAndCompletes()
    {
        var stubs = new StubActivities();
        var queue = NewQueue();
        var id = $"recovering-{Guid.NewGuid():N}";
        await RunWorkerAsync(queue, o => o.AddWorkflow<BuggyWorkflow>().AddAllActivities(stubs), async () =>
        {
            // A short task timeout: the task the stopped worker held is handed to the next worker after it.
            var options = new WorkflowOptions(id, queue) { TaskTimeout = TimeSpan.FromSeconds(1) };
            var started = await Client.StartWorkflowAsync((BuggyWorkflow wf) => wf.RunAsync("1.0.0"), options);
            await UntilEventAsync(started, EventType.WorkflowTaskFailed);
            Assert.That((await started.DescribeAsync()).Status, Is.EqualTo(WorkflowExecutionStatus.Running));
        });

        await RunWorkerAsync(queue, o => o.AddWorkflow<FixedWorkflow>().AddAllActivities(stubs), async () =>
        {
            var result = await Client.GetWorkflowHandle<FixedWorkflow, string>(id).GetResultAsync();

            Assert.That(result, Is.EqualTo("1.0.0 activated"));
            Assert.That(stubs.Calls, Is.EqualTo(new[] { "activate_model" }), "the activity ran once; the fix replayed its result");
        });
    }

    // Temporal requires [WorkflowRun] to be an instance method, whether or not it reads the instance.
#pragma warning disable CA1822
    /// <summary>Deployed with a bug after its first step: a lookup that finds nothing.</summary>
    [Workflow("RecoveringWorkflow")]
    public sealed class BuggyWorkflow
    {
        [WorkflowRun]
        public async Task<string> RunAsync(string version)
        {
            try
            {
                var activated = await ActivateAsync(version);
                var notes = new List<string>();
                return $"{activated} {notes.First()}";
            }
            catch (Exception ex) when (RunFailure.ClosesRun(ex))
            {
                await ArchiveAsync(version);
                throw;
            }
        }
    }

    /// <summary>The same workflow after the fix: the same commands, so it replays the run's history.</summary>
    [Workflow("RecoveringWorkflow")]
    public sealed class FixedWorkflow
    {
        [WorkflowRun]
        public async Task<string> RunAsync(string version)
        {
            try
            {
                var activated = await ActivateAsync(version);
                return $"{activated} activated";
            }
            catch (Exception ex) when (RunFailure.ClosesRun(ex))
            {
                await ArchiveAsync(version);
                throw;
            }
        }
    }
#pragma warning restore CA1822

    private static Task<string> ActivateAsync(string version) => Workflow.ExecuteActivityAsync(
        (StubActivities a) => a.ActivateModelAsync("churn", version),
        new ActivityOptions { StartToCloseTimeout = TimeSpan.FromSeconds(10) });

    private static Task<string> ArchiveAsync(string version) => Workflow.ExecuteActivityAsync(
        (StubActivities a) => a.ArchiveModelAsync("churn", version),
        new ActivityOptions { StartToCloseTimeout = TimeSpan.FromSeconds(10) });
}
