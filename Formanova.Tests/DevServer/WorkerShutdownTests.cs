using System.Diagnostics;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;

namespace Formanova.Tests.DevServer;

/// <summary>
/// ShutdownWorker answers the worker's outstanding long polls empty at once (the server side of Temporal's
/// <c>worker_poll_complete_on_shutdown</c>), so no task goes to a poll whose worker has stopped listening.
/// </summary>
[TestFixture]
[Category("Integration")]
public class WorkerShutdownTests : DevServerFixture
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Test]
    public async Task ShutdownWorker_WhilePollsWait_AnswersThemEmptyAtOnce()
    {
        var queue = NewQueue();
        var key = Guid.NewGuid().ToString();
        // A deadline far beyond the bound below: only the shutdown can end these polls in time.
        var options = new RpcOptions { Timeout = TimeSpan.FromMinutes(2) };
        var activityPoll = Client.WorkflowService.PollActivityTaskQueueAsync(
            new() { Namespace = "default", TaskQueue = new() { Name = queue }, Identity = "w", WorkerInstanceKey = key },
            options);
        var workflowPoll = Client.WorkflowService.PollWorkflowTaskQueueAsync(
            new() { Namespace = "default", TaskQueue = new() { Name = queue }, Identity = "w", WorkerInstanceKey = key },
            options);
        var otherPoll = Client.WorkflowService.PollActivityTaskQueueAsync(
            new() { Namespace = "default", TaskQueue = new() { Name = queue }, Identity = "other", WorkerInstanceKey = "other" },
            options);

        await Client.WorkflowService.ShutdownWorkerAsync(new()
        {
            Namespace = "default",
            Identity = "w",
            WorkerInstanceKey = key,
            TaskQueue = queue,
            TaskQueueTypes = { TaskQueueType.Workflow, TaskQueueType.Activity },
        });

        Assert.That((await activityPoll.WaitAsync(Bound)).TaskToken.IsEmpty, Is.True);
        Assert.That((await workflowPoll.WaitAsync(Bound)).TaskToken.IsEmpty, Is.True);
        Assert.That(otherPoll.IsCompleted, Is.False, "another worker's poll keeps waiting");

        // The other worker's poll still gets work.
        var handle = await Client.StartWorkflowAsync((ActivityTimeoutWorkflow wf) => wf.RunAsync(true), new(NewId(), queue));
        await Client.WorkflowService.ShutdownWorkerAsync(new() { Namespace = "default", Identity = "other", WorkerInstanceKey = "other" });
        Assert.That((await otherPoll.WaitAsync(Bound)).TaskToken.IsEmpty, Is.True);
        await handle.TerminateAsync();
    }

    [Test]
    public async Task WorkerShutdown_WithIdlePolls_StopsWithoutWaitingForThePollDeadline()
    {
        var queue = NewQueue();
        using var stop = new CancellationTokenSource();
        using var worker = new Temporalio.Worker.TemporalWorker(Client, new Temporalio.Worker.TemporalWorkerOptions(queue)
            .AddWorkflow<GreetingWorkflow>().AddActivity(TestActivities.Greet));
        var running = worker.ExecuteAsync(stop.Token);
        await Client.ExecuteWorkflowAsync((GreetingWorkflow wf) => wf.RunAsync("before shutdown"), new(NewId(), queue));

        var stopwatch = Stopwatch.StartNew();
        await stop.CancelAsync();
        try
        {
            await running.WaitAsync(Bound);
        }
        catch (OperationCanceledException)
        {
            // The worker reports its cancellation this way.
        }

        TestContext.Out.WriteLine($"worker shutdown took {stopwatch.ElapsedMilliseconds} ms");
        Assert.That(running.IsCompleted, Is.True);
    }
}
