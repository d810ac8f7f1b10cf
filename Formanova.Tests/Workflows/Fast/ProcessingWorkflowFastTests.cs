using Formanova.Host.Workflows.Common;
using Formanova.Host.Workflows.Processing;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Exceptions;

namespace Formanova.Tests.Workflows.Fast;

public sealed class ProcessingWorkflowFastTests : StubWorkerFixture
{
    [Test]
    public async Task RunAsync_WhenEveryStepSucceeds_CompletesWithTheClosingEventsInOrder()
    {
        var stubs = new StubActivities();
        await WithWorkerAsync(stubs, async queue =>
        {
            var output = await Client.ExecuteWorkflowAsync(
                (ProcessingWorkflow wf) => wf.RunAsync(StubInputs.Processing()),
                Start(queue, "job"));

            Assert.That(output.Version, Is.EqualTo("1.0.0"));
            Assert.That(output.Decision, Is.Not.Null, "post_process applied the decision threshold");
            // WORKFLOW_STARTED is emitted while validation runs, so only the other steps have an order.
            Assert.That(stubs.Calls, Does.Contain($"emit:{IEventModule.WorkflowStarted}"));
            Assert.That(stubs.Calls.Where(c => c != $"emit:{IEventModule.WorkflowStarted}"), Is.EqualTo(new[]
            {
                "validate_input", "prepare_data", "run_model_inference", $"persist:{ResultStatus.Succeeded}",
                $"emit:{IEventModule.ProcessingCompleted}", $"emit:{IEventModule.WorkflowCompleted}",
            }));
        });
    }

    [Test]
    public async Task RunAsync_WhenValidationFails_FailsAtOnceWithTheReasonsAndStoresTheFailure()
    {
        var stubs = new StubActivities
        {
            Validate = _ => throw StubActivities.InvalidInput("tenure_months", "tenure_months must be a number."),
        };
        await WithWorkerAsync(stubs, async queue =>
        {
            var error = await ThrowsAsync<WorkflowFailedException>(() => Client.ExecuteWorkflowAsync(
                (ProcessingWorkflow wf) => wf.RunAsync(StubInputs.Processing()),
                Start(queue, "job")));

            var failure = (ApplicationFailureException)error.InnerException!;
            Assert.That(failure.ErrorType, Is.EqualTo(ErrorTypes.InvalidInput));
            Assert.That(stubs.Calls.Count(c => c == "validate_input"), Is.EqualTo(1), "not retried");
            Assert.That(stubs.Calls, Does.Not.Contain("run_model_inference"));
            Assert.That(stubs.Calls.TakeLast(2), Is.EqualTo(StubActivities.FailureClosing(ResultStatus.Failed)));
        });
    }

    [Test]
    public async Task RunAsync_WhenInferenceFailsTwice_RetriesAndSucceedsWithoutFallingBack()
    {
        var stubs = new StubActivities();
        var infer = stubs.Infer;
        stubs.Infer = i => StubActivities.Attempt < 3 ? throw StubActivities.Unavailable("busy") : infer(i);
        await WithWorkerAsync(stubs, async queue =>
        {
            var output = await Client.ExecuteWorkflowAsync(
                (ProcessingWorkflow wf) => wf.RunAsync(StubInputs.Processing()),
                Start(queue, "job"));

            Assert.That(output.Version, Is.EqualTo("1.0.0"));
            Assert.That(output.FallbackFrom, Is.Null);
            Assert.That(stubs.Calls.Count(c => c == "run_model_inference"), Is.EqualTo(3));
            Assert.That(stubs.Calls, Does.Not.Contain("fallback_model"));
        });
    }

    [Test]
    public async Task RunAsync_WhenInferenceKeepsFailingAndTheExternalCallAnswers_FallsBackAndCarriesTheAnswer()
    {
        var stubs = new StubActivities();
        var infer = stubs.Infer;
        stubs.Infer = i => i.Version == "1.0.0" ? throw StubActivities.Unavailable("model file corrupt") : infer(i);
        await WithWorkerAsync(stubs, async queue =>
        {
            var handle = await Client.StartWorkflowAsync(
                (ProcessingWorkflow wf) => wf.RunAsync(StubInputs.Processing(true, false)),
                Start(queue, "job"));
            var output = await handle.GetResultAsync();

            Assert.That(output.Version, Is.EqualTo("0.9.0"));
            Assert.That(output.FallbackFrom, Is.EqualTo("1.0.0"));
            Assert.That(output.FallbackReason, Is.EqualTo("model file corrupt"));
            Assert.That(output.External?.StatusCode, Is.EqualTo(200));
            Assert.That(output.Errors.Select(e => e.Stage), Is.EqualTo(new[] { "inference", "fallback" }));
            Assert.That(stubs.Calls.Count(c => c == "run_model_inference"), Is.EqualTo(4), "3 attempts, then the fallback version");
            await RecordedHistories.SaveIfRecordingAsync(handle, "ProcessingWorkflow");
        });
    }

    [Test]
    public async Task RunAsync_WhenTheExternalCallKeepsFailing_AnswersWithTheFailureInTheErrorHistory()
    {
        var stubs = new StubActivities { External = _ => throw StubActivities.Unavailable("502 from upstream") };
        await WithWorkerAsync(stubs, async queue =>
        {
            var output = await Client.ExecuteWorkflowAsync(
                (ProcessingWorkflow wf) => wf.RunAsync(StubInputs.Processing(true, false)),
                Start(queue, "job"));

            Assert.That(output.External, Is.Null);
            Assert.That(output.Errors.Single().Stage, Is.EqualTo("external"));
            Assert.That(output.Errors.Single().Handled, Is.True);
        });
    }

    [Test]
    public async Task RunAsync_WhenCancelledWhilePaused_ClosesCanceledWithTheReasonStored()
    {
        var stubs = new StubActivities();
        await WithWorkerAsync(stubs, async queue =>
        {
            var handle = await StartPausedAsync(queue);

            await handle.SignalAsync(wf => wf.CancelAsync(new CancelRequest("customer withdrew", "ops", CancellationFollows: true)));
            await handle.CancelAsync();

            var error = await ThrowsAsync<WorkflowFailedException>(() => handle.GetResultAsync());
            Assert.That(error.InnerException, Is.InstanceOf<CanceledFailureException>());
            Assert.That((await handle.DescribeAsync()).Status, Is.EqualTo(WorkflowExecutionStatus.Canceled));
            Assert.That(stubs.Calls, Does.Not.Contain("validate_input"));
            Assert.That(stubs.Calls.TakeLast(2), Is.EqualTo(StubActivities.FailureClosing(ResultStatus.Cancelled)));
        });
    }

    [Test]
    public async Task RunAsync_WhenOnlyTheCancelSignalIsSent_StopsAtTheNextStageFailedWithTypeCancelled()
    {
        var stubs = new StubActivities();
        await WithWorkerAsync(stubs, async queue =>
        {
            var handle = await StartPausedAsync(queue);

            await handle.SignalAsync(wf => wf.CancelAsync(new CancelRequest("operator")));

            var error = await ThrowsAsync<WorkflowFailedException>(() => handle.GetResultAsync());
            Assert.That(((ApplicationFailureException)error.InnerException!).ErrorType, Is.EqualTo(ErrorTypes.Cancelled));
            Assert.That(stubs.Calls, Does.Not.Contain("validate_input"));
            Assert.That(stubs.Calls, Does.Contain($"persist:{ResultStatus.Cancelled}"));
        });
    }

    private async Task<WorkflowHandle<ProcessingWorkflow, ProcessingOutput>> StartPausedAsync(string queue)
    {
        var request = StubInputs.Processing(startPaused: true);
        var handle = await Client.StartWorkflowAsync((ProcessingWorkflow wf) => wf.RunAsync(request), Start(queue, "job"));
        await WaitUntilAsync(async () => (await handle.QueryAsync(wf => wf.GetCurrentStatus())).Stage == "paused (validating)");
        return handle;
    }
}
