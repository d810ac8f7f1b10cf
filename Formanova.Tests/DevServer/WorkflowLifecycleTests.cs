using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Exceptions;

namespace Formanova.Tests.DevServer;

[TestFixture]
[Category("Integration")]
public class WorkflowLifecycleTests : DevServerFixture
{
    [Test]
    public async Task Connect_WhenServerStarted_DescribesDefaultNamespace()
    {
        var ns = await Client.WorkflowService.DescribeNamespaceAsync(new() { Namespace = "default" });
        var info = await Client.WorkflowService.GetSystemInfoAsync(new());

        Assert.Multiple(() =>
        {
            Assert.That(ns.NamespaceInfo.Name, Is.EqualTo("default"));
            Assert.That(info.Capabilities.SdkMetadata, Is.True);
            Assert.That(info.Capabilities.SupportsSchedules, Is.False);
        });
    }

    [Test]
    public async Task ExecuteWorkflow_WithActivity_ReturnsActivityResult()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<GreetingWorkflow>().AddActivity(TestActivities.Greet), async () =>
        {
            var result = await Client.ExecuteWorkflowAsync((GreetingWorkflow wf) => wf.RunAsync("Formanova"), new(NewId(), queue));
            Assert.That(result, Is.EqualTo("Hello, Formanova!"));
        });
    }

    [Test]
    public async Task ExecuteWorkflow_WithLocalActivity_ReturnsMarkerResult()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<LocalActivityWorkflow>().AddActivity(TestActivities.Greet), async () =>
        {
            var handle = await Client.StartWorkflowAsync((LocalActivityWorkflow wf) => wf.RunAsync("local"), new(NewId(), queue));
            Assert.That(await handle.GetResultAsync(), Is.EqualTo("Hello, local!"));
            var history = await handle.FetchHistoryAsync();
            Assert.That(history.Events.Any(e => e.EventType == EventType.MarkerRecorded), Is.True);
        });
    }

    [Test]
    public async Task StartWorkflow_WhenIdAlreadyRunning_ThrowsAlreadyStartedWithRunId()
    {
        var queue = NewQueue();
        var id = NewId();
        var first = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(id, queue));

        var error = await ThrowsAsync<WorkflowAlreadyStartedException>(() =>
            Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(id, queue)));

        Assert.That(error.RunId, Is.EqualTo(first.ResultRunId));
        await first.TerminateAsync("cleanup");
    }

    [Test]
    public async Task StartWorkflow_WithUseExistingConflictPolicy_ReturnsRunningRun()
    {
        var queue = NewQueue();
        var id = NewId();
        var first = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(id, queue));
        var second = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(),
            new(id, queue) { IdConflictPolicy = WorkflowIdConflictPolicy.UseExisting });

        Assert.That(second.ResultRunId, Is.EqualTo(first.ResultRunId));
        await first.TerminateAsync("cleanup");
    }

    [Test]
    public async Task StartWorkflow_WhenClosedAndRejectDuplicate_ThrowsAlreadyStarted()
    {
        var queue = NewQueue();
        var id = NewId();
        var first = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(id, queue));
        await first.TerminateAsync("done");

        await ThrowsAsync<WorkflowAlreadyStartedException>(() => Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(),
            new(id, queue) { IdReusePolicy = WorkflowIdReusePolicy.RejectDuplicate }));
        var again = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(id, queue));
        Assert.That(again.ResultRunId, Is.Not.EqualTo(first.ResultRunId));
        await again.TerminateAsync("cleanup");
    }

    [Test]
    public async Task Terminate_WhenRunning_ResultThrowsTerminated()
    {
        var queue = NewQueue();
        var handle = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), queue));

        await handle.TerminateAsync("stop");

        var error = await ThrowsAsync<WorkflowFailedException>(() => handle.GetResultAsync());
        Assert.That(error.InnerException, Is.InstanceOf<TerminatedFailureException>());
        var description = await handle.DescribeAsync();
        Assert.That(description.Status, Is.EqualTo(WorkflowExecutionStatus.Terminated));
    }

    [Test]
    public async Task Terminate_WhenAlreadyClosed_ThrowsFailedPrecondition()
    {
        var queue = NewQueue();
        var handle = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
        await handle.TerminateAsync("stop");

        var error = await ThrowsAsync<RpcException>(() => handle.TerminateAsync("again"));
        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.FailedPrecondition));
    }

    [Test]
    public async Task Cancel_WhenWorkflowWaitsOnTimer_RunsCleanupAndEndsCancelled()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<CancellableWorkflow>().AddActivity(TestActivities.Greet), async () =>
        {
            var handle = await Client.StartWorkflowAsync((CancellableWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
            await WaitUntilAsync(async () => (await handle.FetchHistoryAsync()).Events.Any(e => e.EventType == EventType.TimerStarted));

            await handle.CancelAsync();

            var error = await ThrowsAsync<WorkflowFailedException>(() => handle.GetResultAsync());
            Assert.That(error.InnerException, Is.InstanceOf<CanceledFailureException>());
            var history = await handle.FetchHistoryAsync();
            Assert.That(history.Events.Any(e => e.EventType == EventType.ActivityTaskCompleted), Is.True);
        });
    }

    [Test]
    public async Task ContinueAsNew_WhenChained_GetResultFollowsToLastRun()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<CountdownWorkflow>(), async () =>
        {
            var handle = await Client.StartWorkflowAsync((CountdownWorkflow wf) => wf.RunAsync(3, 0), new(NewId(), queue));

            Assert.That(await handle.GetResultAsync(), Is.EqualTo(6));
            var first = await Client.GetWorkflowHandle(handle.Id, runId: handle.ResultRunId).DescribeAsync();
            Assert.That(first.Status, Is.EqualTo(WorkflowExecutionStatus.ContinuedAsNew));
            var latest = await Client.GetWorkflowHandle(handle.Id).DescribeAsync();
            Assert.That(latest.Status, Is.EqualTo(WorkflowExecutionStatus.Completed));
        });
    }

    [Test]
    public async Task ExecuteWorkflow_WhenWorkflowThrows_ResultCarriesApplicationFailure()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<FailingWorkflow>(), async () =>
        {
            var error = await ThrowsAsync<WorkflowFailedException>(() =>
                Client.ExecuteWorkflowAsync((FailingWorkflow wf) => wf.RunAsync("it broke"), new(NewId(), queue)));
            Assert.That(error.InnerException, Is.InstanceOf<ApplicationFailureException>());
            Assert.That(((ApplicationFailureException)error.InnerException!).ErrorType, Is.EqualTo("Boom"));
        });
    }

    [Test]
    public async Task ExecuteWorkflow_WhenRunTimeoutPasses_ResultThrowsTimedOut()
    {
        var queue = NewQueue();
        // No worker polls this queue, so only the server-side run timeout can close the workflow.
        var handle = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(),
            new(NewId(), queue) { RunTimeout = TimeSpan.FromMilliseconds(300) });

        var error = await ThrowsAsync<WorkflowFailedException>(() => handle.GetResultAsync());
        Assert.That(error.InnerException, Is.InstanceOf<TimeoutFailureException>());
    }

    [Test]
    public async Task ListWorkflows_WithTypeAndStatusQuery_ReturnsMatchesNewestFirst()
    {
        var queue = NewQueue();
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var handle = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
            ids.Add(handle.Id);
        }

        await Client.GetWorkflowHandle(ids[0]).TerminateAsync("done");

        var running = new List<string>();
        await foreach (var wf in Client.ListWorkflowsAsync(
            $"WorkflowType = 'SignalQueryWorkflow' AND ExecutionStatus = 'Running' AND TaskQueue = '{queue}'"))
        {
            running.Add(wf.Id);
        }

        var count = await Client.CountWorkflowsAsync($"TaskQueue = '{queue}'");

        Assert.Multiple(() =>
        {
            Assert.That(running, Is.EqualTo(new[] { ids[2], ids[1] }));
            Assert.That(count.Count, Is.EqualTo(3));
        });
        foreach (var id in ids.Skip(1))
        {
            await Client.GetWorkflowHandle(id).TerminateAsync("cleanup");
        }
    }

    [Test]
    public async Task ListWorkflows_WhenRunsStartBetweenPages_ReturnEachEarlierRunExactlyOnce()
    {
        var queue = NewQueue();
        var query = $"TaskQueue = '{queue}'";
        var earlier = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            earlier.Add((await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), queue))).Id);
        }

        var seen = new List<string>();
        var later = new List<string>();
        byte[]? token = null;
        do
        {
            var page = await Client.ListWorkflowsPaginatedAsync(query, token, new WorkflowListPaginatedOptions { PageSize = 2 });
            seen.AddRange(page.Workflows.Select(w => w.Id));
            token = page.NextPageToken;

            // An offset token would now point one run further down and the next page would repeat a run.
            later.Add((await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), queue))).Id);
        }
        while (token is { Length: > 0 });

        Assert.That(seen, Is.EqualTo(Enumerable.Reverse(earlier)), "newest first, each once, none of the runs started meanwhile");
        foreach (var id in earlier.Concat(later))
        {
            await Client.GetWorkflowHandle(id).TerminateAsync("cleanup");
        }
    }

    [Test]
    public async Task ListWorkflows_WhenPageTokenIsGarbled_ThrowsInvalidArgument()
    {
        var error = await ThrowsAsync<RpcException>(() => Client.ListWorkflowsPaginatedAsync($"TaskQueue = '{NewQueue()}'", [1, 2, 3]));
        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.InvalidArgument));
    }

    [Test]
    public async Task Cancel_WhenAlreadyClosed_SucceedsWithNothingToDo()
    {
        var queue = NewQueue();
        var handle = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
        await handle.TerminateAsync("stop");

        await handle.CancelAsync();

        var history = await handle.FetchHistoryAsync();
        Assert.That(history.Events.Select(e => e.EventType), Does.Not.Contain(EventType.WorkflowExecutionCancelRequested));
        Assert.That((await handle.DescribeAsync()).Status, Is.EqualTo(WorkflowExecutionStatus.Terminated));
    }

    [Test]
    public async Task ListWorkflows_WithUnsupportedQuery_ThrowsInvalidArgument()
    {
        var error = await ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var unused in Client.ListWorkflowsAsync("CustomField > 3"))
            {
                Assert.Fail($"unexpected {unused.Id}");
            }
        });
        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.InvalidArgument));
    }

    [Test]
    public async Task Describe_WhenWorkflowUnknown_ThrowsNotFound()
    {
        var error = await ThrowsAsync<RpcException>(() => Client.GetWorkflowHandle("does-not-exist").DescribeAsync());
        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.NotFound));
    }

    [Test]
    public async Task Connect_WhenNamespaceUnknown_WorkflowCallsThrowNotFound()
    {
        var error = await ThrowsAsync<RpcException>(async () =>
        {
            var other = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(Address) { Namespace = "nope" });
            await other.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), NewQueue()));
        });
        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.NotFound));
    }

    [Test]
    public async Task RespondActivityCompleted_WithForgedToken_ThrowsInvalidArgument()
    {
        var error = await ThrowsAsync<RpcException>(() => Client.WorkflowService.RespondActivityTaskCompletedAsync(new()
        {
            Namespace = "default",
            TaskToken = Google.Protobuf.ByteString.CopyFromUtf8("garbage"),
        }));
        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.InvalidArgument));
    }

    [Test]
    public async Task UnsupportedRpc_WhenCalled_ReturnsUnimplemented()
    {
        var error = await ThrowsAsync<RpcException>(
            () => Client.WorkflowService.ListArchivedWorkflowExecutionsAsync(new() { Namespace = "default" }));
        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.Unimplemented));
    }
}
