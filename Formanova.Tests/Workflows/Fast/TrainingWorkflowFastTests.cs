using Formanova.Host.Workflows.Common;
using Formanova.Host.Workflows.Training;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Temporalio.Client;
using Temporalio.Exceptions;

namespace Formanova.Tests.Workflows.Fast;

public sealed class TrainingWorkflowFastTests : StubWorkerFixture
{
    [Test]
    public async Task RunAsync_WhenThresholdsPass_RegistersActivatesAndEmitsEvents()
    {
        var stubs = new StubActivities();
        await WithWorkerAsync(stubs, async queue =>
        {
            var result = await Client.ExecuteWorkflowAsync(
                (ModelTrainingWorkflow wf) => wf.RunAsync(StubInputs.Training()),
                Start(queue, "train"));

            Assert.That(result.Outcome, Is.EqualTo("activated"));
            Assert.That(stubs.Calls, Is.EqualTo(new[]
            {
                $"emit:{IEventModule.WorkflowStarted}", "prepare_training_data", "train_model", "register_model", "activate_model",
                $"persist:{ResultStatus.Succeeded}", $"emit:{IEventModule.WorkflowCompleted}",
            }));
        });
    }

    [Test]
    public async Task RunAsync_WhenApprovalIsRequired_WaitsForApproveThenActivates()
    {
        var stubs = new StubActivities();
        await WithWorkerAsync(stubs, async queue =>
        {
            var handle = await AwaitingApprovalAsync(queue);
            Assert.That(stubs.Calls, Does.Not.Contain("activate_model"));

            await handle.SignalAsync(wf => wf.ApproveAsync(new ApprovalDecision("me")));
            var result = await handle.GetResultAsync();

            Assert.That(result.Outcome, Is.EqualTo("activated"));
            Assert.That(result.Approval, Is.EqualTo("approved"));
            Assert.That(stubs.Calls, Does.Contain("activate_model"));
            await RecordedHistories.SaveIfRecordingAsync(handle, "ModelTrainingWorkflow");
        });
    }

    [Test]
    public async Task RunAsync_WhenRejected_ArchivesTheVersionWithoutActivating()
    {
        var stubs = new StubActivities();
        await WithWorkerAsync(stubs, async queue =>
        {
            var handle = await AwaitingApprovalAsync(queue);
            await handle.SignalAsync(wf => wf.RejectAsync(new ApprovalDecision("me", "too slow")));

            var result = await handle.GetResultAsync();

            Assert.That(result.Outcome, Is.EqualTo("registered, not activated (rejected)"));
            Assert.That(stubs.Calls, Does.Contain("archive_model").And.Not.Contain("activate_model"));
        });
    }

    [Test]
    public async Task RunAsync_WhenAThresholdIsMissed_ArchivesTheVersionAndFailsWithModelValidation()
    {
        var stubs = new StubActivities();
        await WithWorkerAsync(stubs, async queue =>
        {
            var run = StubInputs.Training(minMetrics: new() { ["auc"] = 0.95 });
            var error = await ThrowsAsync<WorkflowFailedException>(() => Client.ExecuteWorkflowAsync(
                (ModelTrainingWorkflow wf) => wf.RunAsync(run),
                Start(queue, "train")));

            Assert.That(((ApplicationFailureException)error.InnerException!).ErrorType, Is.EqualTo(ErrorTypes.ModelValidation));
            Assert.That(stubs.Calls, Does.Contain("archive_model").And.Not.Contain("register_model"));
            Assert.That(stubs.Calls.TakeLast(2), Is.EqualTo(StubActivities.FailureClosing(ResultStatus.Failed)));
        });
    }

    [Test]
    public async Task RunAsync_WhenTrainingFailsTwice_RetriesAndSucceeds()
    {
        var stubs = new StubActivities();
        var train = stubs.Train;
        stubs.Train = t => StubActivities.Attempt < 3 ? throw StubActivities.Unavailable("worker busy") : train(t);
        await WithWorkerAsync(stubs, async queue =>
        {
            var result = await Client.ExecuteWorkflowAsync(
                (ModelTrainingWorkflow wf) => wf.RunAsync(StubInputs.Training()),
                Start(queue, "train"));

            Assert.That(result.Outcome, Is.EqualTo("activated"));
            Assert.That(stubs.Calls.Count(c => c == "train_model"), Is.EqualTo(3));
        });
    }

    [Test]
    public async Task RunAsync_WhenTheConfigurationIsInvalid_FailsWithoutRetrying()
    {
        var stubs = new StubActivities
        {
            Train = _ => throw new ApplicationFailureException("unknown trainer", ErrorTypes.InvalidConfig),
        };
        await WithWorkerAsync(stubs, async queue =>
        {
            var error = await ThrowsAsync<WorkflowFailedException>(() => Client.ExecuteWorkflowAsync(
                (ModelTrainingWorkflow wf) => wf.RunAsync(StubInputs.Training()),
                Start(queue, "train")));

            Assert.That(ActivityErrorType(error), Is.EqualTo(ErrorTypes.InvalidConfig));
            Assert.That(stubs.Calls.Count(c => c == "train_model"), Is.EqualTo(1));
            Assert.That(stubs.Calls, Does.Contain($"persist:{ResultStatus.Failed}"));
        });
    }

    [Test]
    public async Task RunAsync_WhenCancelledWhileAwaitingApproval_StoresTheCancellationAndEndsCanceled()
    {
        var stubs = new StubActivities();
        await WithWorkerAsync(stubs, async queue =>
        {
            var handle = await AwaitingApprovalAsync(queue);

            await handle.CancelAsync();

            var error = await ThrowsAsync<WorkflowFailedException>(() => handle.GetResultAsync());
            Assert.That(error.InnerException, Is.InstanceOf<CanceledFailureException>());
            Assert.That(stubs.Calls.TakeLast(2), Is.EqualTo(StubActivities.FailureClosing(ResultStatus.Cancelled)));
        });
    }

    private async Task<WorkflowHandle<ModelTrainingWorkflow, TrainingRunResult>> AwaitingApprovalAsync(string queue)
    {
        var handle = await Client.StartWorkflowAsync(
            (ModelTrainingWorkflow wf) => wf.RunAsync(StubInputs.Training(true, null)),
            Start(queue, "train"));
        await WaitUntilAsync(async () => (await handle.QueryAsync(wf => wf.GetProgress())).Stage == "awaiting-approval");
        return handle;
    }

    private static string? ActivityErrorType(Exception error) =>
        (error.InnerException?.InnerException as ApplicationFailureException)?.ErrorType;
}
