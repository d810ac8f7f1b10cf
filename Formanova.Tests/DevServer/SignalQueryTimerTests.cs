using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Exceptions;

namespace Formanova.Tests.DevServer;

[TestFixture]
[Category("Integration")]
public class SignalQueryTimerTests : DevServerFixture
{
    [Test]
    public async Task Signal_WhenWorkflowWaiting_DeliversInOrderAndCompletes()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<SignalQueryWorkflow>(), async () =>
        {
            var handle = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
            for (var i = 0; i < 5; i++)
            {
                await handle.SignalAsync(wf => wf.AddAsync($"item{i}"));
            }

            await handle.SignalAsync(wf => wf.FinishAsync());

            Assert.That(await handle.GetResultAsync(), Is.EqualTo("item0,item1,item2,item3,item4"));
        });
    }

    [Test]
    public async Task Query_OnRunningWorkflow_ReturnsCurrentState()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<SignalQueryWorkflow>(), async () =>
        {
            var handle = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
            await handle.SignalAsync(wf => wf.AddAsync("a"));
            await handle.SignalAsync(wf => wf.AddAsync("b"));

            await WaitUntilAsync(async () => await handle.QueryAsync(wf => wf.Count) == 2);
            await handle.SignalAsync(wf => wf.FinishAsync());
            await handle.GetResultAsync();
        });
    }

    [Test]
    public async Task Query_OnClosedWorkflow_ReplaysHistoryAndAnswers()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<SignalQueryWorkflow>(), async () =>
        {
            var handle = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
            await handle.SignalAsync(wf => wf.AddAsync("a"));
            await handle.SignalAsync(wf => wf.FinishAsync());
            await handle.GetResultAsync();

            Assert.That(await handle.QueryAsync(wf => wf.Count), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Query_WithUnknownName_ThrowsQueryFailed()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<SignalQueryWorkflow>(), async () =>
        {
            var handle = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), queue));

            await ThrowsAsync<WorkflowQueryFailedException>(() => handle.QueryAsync<int>("NoSuchQuery", []));
            await handle.TerminateAsync("cleanup");
        });
    }

    [Test]
    public async Task Query_WithNotOpenRejectCondition_OnClosedWorkflowIsRejected()
    {
        var queue = NewQueue();
        var handle = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
        await handle.TerminateAsync("closed");

        var error = await ThrowsAsync<WorkflowQueryRejectedException>(() =>
            handle.QueryAsync(wf => wf.Count, new() { RejectCondition = QueryRejectCondition.NotOpen }));
        Assert.That(error.WorkflowStatus, Is.EqualTo(WorkflowExecutionStatus.Terminated));
    }

    [Test]
    public async Task SignalWithStart_WhenNotRunning_StartsWithSignalThenSignalsExisting()
    {
        var queue = NewQueue();
        var id = NewId();
        await RunWorkerAsync(queue, o => o.AddWorkflow<SignalQueryWorkflow>(), async () =>
        {
            var options = new WorkflowOptions(id, queue);
            options.SignalWithStart((SignalQueryWorkflow wf) => wf.AddAsync("first"));
            var handle = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), options);
            var again = new WorkflowOptions(id, queue);
            again.SignalWithStart((SignalQueryWorkflow wf) => wf.AddAsync("second"));
            var second = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), again);
            await handle.SignalAsync(wf => wf.FinishAsync());

            Assert.That(second.ResultRunId, Is.EqualTo(handle.ResultRunId));
            Assert.That(await handle.GetResultAsync(), Is.EqualTo("first,second"));
        });
    }

    [Test]
    public async Task Signal_WhenWorkflowClosed_ThrowsFailedPrecondition()
    {
        var handle = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), NewQueue()));
        await handle.TerminateAsync("closed");

        var error = await ThrowsAsync<RpcException>(() => handle.SignalAsync(wf => wf.AddAsync("late")));
        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.FailedPrecondition));
    }

    [Test]
    public async Task Timer_WhenDelayAndConditionTimeout_BothFire()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<TimerWorkflow>(), async () =>
        {
            var handle = await Client.StartWorkflowAsync((TimerWorkflow wf) => wf.RunAsync(200), new(NewId(), queue));

            Assert.That(await handle.GetResultAsync(), Is.EqualTo("True:True"));
            var history = await handle.FetchHistoryAsync();
            Assert.That(history.Events.Count(e => e.EventType == EventType.TimerFired), Is.EqualTo(2));
        });
    }

    [Test]
    public async Task SignalExternal_FromWorkflow_DeliversAndReportsMissingCancelTarget()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<SignalQueryWorkflow>().AddWorkflow<SignalSenderWorkflow>(), async () =>
        {
            var target = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), queue));

            var sender = await Client.ExecuteWorkflowAsync((SignalSenderWorkflow wf) => wf.RunAsync(target.Id), new(NewId(), queue));

            Assert.That(await target.GetResultAsync(), Is.EqualTo("from-workflow"));
            Assert.That(sender, Does.StartWith("cancel failed"));
        });
    }

    [Test]
    public async Task CancelExternal_FromWorkflow_TargetRunsCleanupAndEndsCancelled()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<CancellableWorkflow>().AddWorkflow<CancelSenderWorkflow>()
            .AddActivity(TestActivities.Greet), async () =>
        {
            var target = await Client.StartWorkflowAsync((CancellableWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
            await WaitUntilAsync(async () => (await target.FetchHistoryAsync()).Events.Any(e => e.EventType == EventType.TimerStarted));

            var sender = await Client.ExecuteWorkflowAsync((CancelSenderWorkflow wf) => wf.RunAsync(target.Id), new(NewId(), queue));

            Assert.That(sender, Is.EqualTo("cancel delivered"));
            var error = await ThrowsAsync<WorkflowFailedException>(() => target.GetResultAsync());
            Assert.That(error.InnerException, Is.InstanceOf<CanceledFailureException>());
        });
    }

    [Test]
    public async Task Worker_WhenStickyWorkerGone_AnotherWorkerContinuesWithFullHistory()
    {
        var queue = NewQueue();
        WorkflowHandle<SignalQueryWorkflow, string> handle = null!;
        await RunWorkerAsync(queue, o => o.AddWorkflow<SignalQueryWorkflow>(), async () =>
        {
            handle = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
            await handle.SignalAsync(wf => wf.AddAsync("one"));
            await WaitUntilAsync(async () => await handle.QueryAsync(wf => wf.Count) == 1);
        });
        // The first worker (and its cache) is gone; a fresh one must pick the workflow up.
        await RunWorkerAsync(queue, o => o.AddWorkflow<SignalQueryWorkflow>(), async () =>
        {
            await handle.SignalAsync(wf => wf.AddAsync("two"));
            await handle.SignalAsync(wf => wf.FinishAsync());
            Assert.That(await handle.GetResultAsync(), Is.EqualTo("one,two"));
        });
    }
}
