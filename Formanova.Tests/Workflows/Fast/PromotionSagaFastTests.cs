using Formanova.Host.Workflows.Promotion;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Exceptions;

namespace Formanova.Tests.Workflows.Fast;

public sealed class PromotionSagaFastTests : StubWorkerFixture
{
    [Test]
    public async Task RunAsync_WhenEveryStepSucceeds_ActivatesAndEmitsModelActivated()
    {
        var stubs = new StubActivities();
        await WithWorkerAsync(stubs, async queue =>
        {
            var state = await Client.ExecuteWorkflowAsync(
                (ModelPromotionSaga wf) => wf.RunAsync(StubInputs.Promotion()),
                Start(queue, "promotion"));

            Assert.That(state.Status, Is.EqualTo("completed"));
            Assert.That(state.PreviousVersion, Is.EqualTo("0.9.0"));
            Assert.That(state.Completed, Is.EqualTo(new[] { "check_load", "warm", "switch_active", "smoke_test", "emit_activated" }));
            Assert.That(state.Compensated, Is.Empty);
            Assert.That(stubs.Calls, Does.Contain($"emit:{IEventModule.ModelActivated}"));
        });
    }

    [TestCase("check_model_load", new string[0])]
    [TestCase("warm_model", new string[0])]
    [TestCase("switch_active_version", new[] { "evict_warmed" })]
    [TestCase("smoke_test", new[] { "restore_previous", "evict_warmed" })]
    [TestCase($"emit:{IEventModule.ModelActivated}", new[] { "restore_previous", "evict_warmed" })]
    public async Task RunAsync_WhenAStepFails_CompensatesTheDoneStepsInReverse(string failing, string[] compensations)
    {
        var stubs = new StubActivities
        {
            PromotionStep = step => step == failing
                ? throw new ApplicationFailureException($"{step} failed", "NotFoundError", nonRetryable: true)
                : Task.CompletedTask,
        };
        await WithWorkerAsync(stubs, async queue =>
        {
            var (handle, state) = await RollBackAsync(queue);
            Assert.That(state.Status, Is.EqualTo("rolled-back"));
            Assert.That(state.Error, Is.EqualTo($"{failing} failed"));
            Assert.That(state.Compensated, Is.EqualTo(compensations.Append("emit_rolled_back")));
            Assert.That(stubs.Calls.TakeLast(2), Is.EqualTo(new[]
            {
                $"emit:{IEventModule.ModelPromotionRolledBack}", $"persist:{ResultStatus.Failed}",
            }));
            if (failing == "smoke_test")
            {
                await RecordedHistories.SaveIfRecordingAsync(handle, "ModelPromotionSaga");
            }
        });
    }

    [Test]
    public async Task RunAsync_WhenACompensationFails_RecordsItAndStillRunsTheOthers()
    {
        var stubs = new StubActivities
        {
            PromotionStep = step => step is "smoke_test" or "restore_previous_version"
                ? throw new ApplicationFailureException($"{step} failed", nonRetryable: true)
                : Task.CompletedTask,
        };
        await WithWorkerAsync(stubs, async queue =>
        {
            var (_, state) = await RollBackAsync(queue);
            Assert.That(state.Compensated, Is.EqualTo(new[] { "evict_warmed", "emit_rolled_back" }));
            Assert.That(state.Errors.Select(e => e.Stage), Is.EqualTo(new[] { "smoke_test", "restore_previous" }));
        });
    }

    [Test]
    public async Task RunAsync_WhenCancelledDuringTheSmokeTest_CompensatesAndEndsCanceled()
    {
        var smoke = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var stubs = new StubActivities
        {
            PromotionStep = async step =>
            {
                if (step == "smoke_test")
                {
                    smoke.TrySetResult();
                    await release.Task;
                }
            },
        };
        try
        {
            await WithWorkerAsync(stubs, async queue =>
            {
                var handle = await Client.StartWorkflowAsync(
                    (ModelPromotionSaga wf) => wf.RunAsync(StubInputs.Promotion()),
                    Start(queue, "promotion"));
                await smoke.Task.WaitAsync(TimeSpan.FromSeconds(10));

                await handle.CancelAsync();

                var error = await ThrowsAsync<WorkflowFailedException>(() => handle.GetResultAsync());
                Assert.That(error.InnerException, Is.InstanceOf<CanceledFailureException>());
                Assert.That((await handle.DescribeAsync()).Status, Is.EqualTo(WorkflowExecutionStatus.Canceled));
                var state = await handle.QueryAsync(wf => wf.GetSagaState());
                Assert.That(state.Status, Is.EqualTo("cancelled"));
                Assert.That(state.Compensated, Is.EqualTo(new[] { "restore_previous", "evict_warmed", "emit_rolled_back" }));
                release.TrySetResult();
            });
        }
        finally
        {
            release.TrySetResult();
        }
    }

    /// <summary>Runs a saga expected to fail; its handle and its final state.</summary>
    private async Task<(WorkflowHandle<ModelPromotionSaga, SagaState> Handle, SagaState State)> RollBackAsync(string queue)
    {
        var handle = await Client.StartWorkflowAsync(
            (ModelPromotionSaga wf) => wf.RunAsync(StubInputs.Promotion()),
            Start(queue, "promotion"));
        await ThrowsAsync<WorkflowFailedException>(() => handle.GetResultAsync());
        return (handle, await handle.QueryAsync(wf => wf.GetSagaState()));
    }
}
