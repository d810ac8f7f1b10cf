using Formanova.Host.Workflows.Batch;
using Formanova.Host.Workflows.Common;
using Formanova.Host.Workflows.Webhooks;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Temporalio.Client;
using Temporalio.Exceptions;

namespace Formanova.Tests.Workflows.Fast;

public sealed class BatchWorkflowFastTests : StubWorkerFixture
{
    [Test]
    public async Task RunAsync_WhenChunksOutnumberOneRun_ContinuesAsNewAndPredictsEveryChunkOnce()
    {
        var stubs = new StubActivities();
        await WithWorkerAsync(stubs, async queue =>
        {
            var handle = await Client.StartWorkflowAsync(
                (BatchInferenceWorkflow wf) => wf.RunAsync(StubInputs.Batch(chunksPerRun: 2)),
                Start(queue, "batch"));
            var outcome = await handle.GetResultAsync();

            Assert.That(outcome.Rows, Is.EqualTo(25));
            Assert.That(outcome.Chunks, Is.EqualTo(3));
            Assert.That(outcome.Runs, Is.EqualTo(2));
            Assert.That(stubs.Calls.Where(c => c.StartsWith("process_chunk", StringComparison.Ordinal)).Order(), Is.EqualTo(new[]
            {
                "process_chunk:0", "process_chunk:1", "process_chunk:2",
            }));
            Assert.That(stubs.Calls.Count(c => c == "plan_batch"), Is.EqualTo(1), "the plan is carried across continue-as-new");

            // The first run: planning, two chunks in parallel, continue-as-new.
            await RecordedHistories.SaveIfRecordingAsync(
                Client.GetWorkflowHandle(handle.Id, runId: handle.ResultRunId),
                "BatchInferenceWorkflow");
        });
    }

    [Test]
    public async Task RunAsync_WhenAChunkFailsTwice_RetriesItAndCompletes()
    {
        var stubs = new StubActivities();
        var chunk = stubs.Chunk;
        stubs.Chunk = c => c.Index == 1 && StubActivities.Attempt < 3 ? throw StubActivities.Unavailable("database busy") : chunk(c);
        await WithWorkerAsync(stubs, async queue =>
        {
            var outcome = await Client.ExecuteWorkflowAsync(
                (BatchInferenceWorkflow wf) => wf.RunAsync(StubInputs.Batch()),
                Start(queue, "batch"));

            Assert.That(outcome.Rows, Is.EqualTo(25));
            Assert.That(stubs.Calls.Count(c => c == "process_chunk:1"), Is.EqualTo(3));
        });
    }

    [Test]
    public async Task RunAsync_WhenPlanningFindsNoDataset_FailsAndStoresTheFailure()
    {
        var stubs = new StubActivities
        {
            Plan = _ => throw new ApplicationFailureException("dataset 7 not found", ErrorTypes.NotFound, nonRetryable: true),
        };
        await WithWorkerAsync(stubs, async queue =>
        {
            await ThrowsAsync<WorkflowFailedException>(() => Client.ExecuteWorkflowAsync(
                (BatchInferenceWorkflow wf) => wf.RunAsync(StubInputs.Batch()),
                Start(queue, "batch")));

            Assert.That(stubs.Calls.Count(c => c == "plan_batch"), Is.EqualTo(1));
            Assert.That(stubs.Calls.TakeLast(2), Is.EqualTo(StubActivities.FailureClosing(ResultStatus.Failed)));
        });
    }

    [Test]
    public async Task RunAsync_WhenCancelledWhileAChunkRuns_EndsCanceledWithTheCancellationStored()
    {
        var started = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var stubs = new StubActivities();
        var chunk = stubs.Chunk;
        stubs.Chunk = async c =>
        {
            started.TrySetResult();
            await release.Task;
            return await chunk(c);
        };
        try
        {
            await WithWorkerAsync(stubs, async queue =>
            {
                var handle = await Client.StartWorkflowAsync(
                    (BatchInferenceWorkflow wf) => wf.RunAsync(StubInputs.Batch()),
                    Start(queue, "batch"));
                await started.Task.WaitAsync(TimeSpan.FromSeconds(10));

                await handle.CancelAsync();

                var error = await ThrowsAsync<WorkflowFailedException>(() => handle.GetResultAsync());
                Assert.That(error.InnerException, Is.InstanceOf<CanceledFailureException>());
                Assert.That(stubs.Calls, Does.Contain($"persist:{ResultStatus.Cancelled}"));
                release.TrySetResult();
            });
        }
        finally
        {
            release.TrySetResult();
        }
    }
}

public sealed class WebhookDeliveryWorkflowFastTests : StubWorkerFixture
{
    [Test]
    public async Task RunAsync_WhenTheFirstAttemptFails_SleepsUntilTheNextAttemptAndDelivers()
    {
        var calls = 0;
        var stubs = new StubActivities
        {
            Deliver = id => Interlocked.Increment(ref calls) == 1
                ? new(DeliveryOutcome.RetryableFailure, "500", 500, Pending(id))
                : new(DeliveryOutcome.Delivered, null, 200, null),
        };
        await WithWorkerAsync(stubs, async queue =>
        {
            var handle = await Client.StartWorkflowAsync(
                (WebhookDeliveryWorkflow wf) => wf.RunAsync(new WebhookDeliveryInput(5)),
                Start(queue, "webhook-delivery"));
            var outcome = await handle.GetResultAsync();

            Assert.That(outcome.Outcome, Is.EqualTo("delivered"));
            Assert.That(stubs.Calls.Count(c => c == "attempt_webhook_delivery"), Is.EqualTo(2));
            await RecordedHistories.SaveIfRecordingAsync(handle, "WebhookDeliveryWorkflow");
        });
    }

    [Test]
    public async Task RunAsync_WhenTheReceiverRefusesForGood_EndsDeadLettered()
    {
        var stubs = new StubActivities { Deliver = _ => new(DeliveryOutcome.PermanentFailure, "410 Gone", 410, null) };
        await WithWorkerAsync(stubs, async queue =>
        {
            var outcome = await Client.ExecuteWorkflowAsync(
                (WebhookDeliveryWorkflow wf) => wf.RunAsync(new WebhookDeliveryInput(5)),
                Start(queue, "webhook-delivery"));

            Assert.That(outcome.Outcome, Is.EqualTo("dead-lettered"));
            Assert.That(outcome.Reason, Is.EqualTo("410 Gone"));
        });
    }

    private static WebhookDelivery Pending(long id) => new(
        id,
        1,
        1,
        DeliveryStatus.Pending,
        1,
        DateTimeOffset.UtcNow.AddMilliseconds(100),
        500,
        "500",
        DateTimeOffset.UtcNow,
        DateTimeOffset.UtcNow,
        null);
}
