using Formanova.DevServer;
using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Exceptions;

namespace Formanova.Tests.DevServer;

[TestFixture]
[Category("Integration")]
public class ServerBehaviourTests : DevServerFixture
{
    [Test]
    [CancelAfter(120_000)]
    public async Task WorkflowTask_WhenFirstAttemptFails_SecondAttemptIsScheduledAtOnceAndOnlyTheFailureIsRecorded(
        CancellationToken cancellationToken)
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<FailingTasksWorkflow>(), async () =>
        {
            // A task timeout far beyond the test's limit: only an immediate retry lets the workflow finish in time.
            var handle = await Client.StartWorkflowAsync((FailingTasksWorkflow wf) => wf.RunAsync(1), new(NewId(), queue)
            {
                TaskTimeout = TimeSpan.FromMinutes(10),
            });

            Assert.That(await handle.GetResultAsync(rpcOptions: new() { CancellationToken = cancellationToken }), Is.EqualTo(2));
            var events = (await handle.FetchHistoryAsync()).Events;
            var failed = events.Single(e => e.EventType == EventType.WorkflowTaskFailed);
            var retry = events.Single(e => e.EventId == failed.EventId + 1);
            Assert.That(retry.EventType, Is.EqualTo(EventType.WorkflowTaskScheduled));
            Assert.That(retry.WorkflowTaskScheduledEventAttributes.Attempt, Is.EqualTo(2));
            Assert.That(events.Any(e => e.EventType == EventType.WorkflowTaskTimedOut), Is.False);
        });
    }

    [Test]
    public async Task RegisterNamespace_WithShortRetention_ClosedWorkflowIsDeletedAfterIt()
    {
        var ns = $"ns-{Guid.NewGuid():N}";
        await Client.WorkflowService.RegisterNamespaceAsync(new()
        {
            Namespace = ns,
            WorkflowExecutionRetentionPeriod = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(300)),
        });
        var names = (await Client.WorkflowService.ListNamespacesAsync(new())).Namespaces.Select(n => n.NamespaceInfo.Name);
        Assert.That(names, Does.Contain(ns).And.Contain("default"));
        var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(Address) { Namespace = ns });
        var handle = await client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), NewQueue()));
        await handle.TerminateAsync("done");

        await WaitUntilAsync(async () =>
        {
            try
            {
                await handle.DescribeAsync();
                return false;
            }
            catch (RpcException e) when (e.Code == RpcException.StatusCode.NotFound)
            {
                return true;
            }
        });
    }

    [Test]
    public async Task RegisterNamespace_WhenExists_ThrowsAlreadyExists()
    {
        var error = await ThrowsAsync<RpcException>(() => Client.WorkflowService.RegisterNamespaceAsync(new() { Namespace = "default" }));
        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.AlreadyExists));
    }

    [Test]
    public async Task StartWorkflow_WithMissingTaskQueue_ThrowsInvalidArgument()
    {
        var error = await ThrowsAsync<RpcException>(() => Client.WorkflowService.StartWorkflowExecutionAsync(new()
        {
            Namespace = "default",
            WorkflowId = NewId(),
            WorkflowType = new() { Name = "X" },
            RequestId = Guid.NewGuid().ToString(),
        }));
        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.InvalidArgument));
    }

    [Test]
    public async Task StartWorkflow_WithSameRequestId_ReturnsSameRun()
    {
        var request = new Temporalio.Api.WorkflowService.V1.StartWorkflowExecutionRequest
        {
            Namespace = "default",
            WorkflowId = NewId(),
            WorkflowType = new() { Name = "SignalQueryWorkflow" },
            TaskQueue = new() { Name = NewQueue() },
            RequestId = Guid.NewGuid().ToString(),
        };
        var first = await Client.WorkflowService.StartWorkflowExecutionAsync(request);
        var second = await Client.WorkflowService.StartWorkflowExecutionAsync(request);

        Assert.That(second.RunId, Is.EqualTo(first.RunId));
        await Client.GetWorkflowHandle(request.WorkflowId).TerminateAsync("cleanup");
    }

    [Test]
    public async Task PollWorkflowTask_WhenNothingQueued_ReturnsEmptyBeforeDeadline()
    {
        var started = DateTime.UtcNow;
        var response = await Client.WorkflowService.PollWorkflowTaskQueueAsync(
            new() { Namespace = "default", TaskQueue = new() { Name = NewQueue() }, Identity = "test" },
            new RpcOptions { Timeout = TimeSpan.FromSeconds(2) });

        Assert.That(response.TaskToken.IsEmpty, Is.True);
        Assert.That(DateTime.UtcNow - started, Is.LessThan(TimeSpan.FromSeconds(2)));
    }

    [Test]
    public async Task ManyWorkflows_WhenStartedConcurrently_AllComplete()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<GreetingWorkflow>().AddActivity(TestActivities.Greet), async () =>
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 64).Select(i =>
                Client.ExecuteWorkflowAsync((GreetingWorkflow wf) => wf.RunAsync($"n{i}"), new(NewId(), queue))));

            Assert.That(results, Is.EqualTo(Enumerable.Range(0, 64).Select(i => $"Hello, n{i}!")));
        });
    }
}

[TestFixture]
[Category("Integration")]
public class EmbeddedHostTests
{
    [Test]
    public async Task StartAsync_WithConfiguredNamespaces_ExposesDefaultDevelopmentAndProduction()
    {
        await using var host = new DevServerHost();
        var options = new DevServerOptions { Port = 0 };
        options.Namespaces.Add(DevServerNamespace.Development);
        options.Namespaces.Add(DevServerNamespace.Production);
        var address = await host.StartAsync(options);
        var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address));

        var development = await client.WorkflowService.DescribeNamespaceAsync(new() { Namespace = "development" });
        var production = await client.WorkflowService.DescribeNamespaceAsync(new() { Namespace = "production" });

        Assert.Multiple(() =>
        {
            Assert.That(address, Does.StartWith("127.0.0.1:"));
            Assert.That(development.Config.WorkflowExecutionRetentionTtl.ToTimeSpan(), Is.EqualTo(TimeSpan.FromDays(7)));
            Assert.That(production.Config.WorkflowExecutionRetentionTtl.ToTimeSpan(), Is.EqualTo(TimeSpan.FromDays(30)));
        });
    }
}

[TestFixture]
[Category("Integration")]
public class TimeoutAndRetryTests : DevServerFixture
{
    [TestCase(true, "ScheduleToStart", TestName = "ActivityTimeout_WhenNoWorkerPicksItUp_ScheduleToStartFires")]
    // Only schedule-to-close set: schedule-to-start defaults to it, and Temporal fires schedule-to-start first on a tie.
    [TestCase(false, "ScheduleToStart", TestName = "ActivityTimeout_WhenOnlyScheduleToCloseIsSet_ScheduleToStartFiresFirst")]
    public async Task ActivityTimeout_WhenNoWorker_FiresConfiguredTimeout(bool scheduleToStart, string expected)
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<ActivityTimeoutWorkflow>(), async () =>
        {
            var result = await Client.ExecuteWorkflowAsync(
                (ActivityTimeoutWorkflow wf) => wf.RunAsync(scheduleToStart),
                new(NewId(), queue));
            Assert.That(result, Is.EqualTo(expected));
        });
    }

    [Test]
    public async Task ActivityTimeout_WhenAStartedAttemptOutlivesScheduleToClose_ScheduleToCloseFires()
    {
        var queue = NewQueue();
        await RunWorkerAsync(
            queue,
            o => o.AddWorkflow<StartedActivityTimeoutWorkflow>().AddActivity(TestActivities.StallFirstAttempt),
            async () =>
            {
                var result = await Client.ExecuteWorkflowAsync((StartedActivityTimeoutWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
                Assert.That(result, Is.EqualTo("ScheduleToClose"));
            });
    }

    [Test]
    public async Task WorkflowTask_WhenWorkerNeverResponds_TimesOutAndIsRetried()
    {
        var queue = NewQueue();
        var handle = await Client.StartWorkflowAsync((GreetingWorkflow wf) => wf.RunAsync("late"),
            new(NewId(), queue) { TaskTimeout = TimeSpan.FromSeconds(2) });
        // Take the first task by hand and drop it, as a crashed worker would.
        var taken = await Client.WorkflowService
            .PollWorkflowTaskQueueAsync(new() { Namespace = "default", TaskQueue = new() { Name = queue }, Identity = "lost" });
        Assert.That(taken.TaskToken.IsEmpty, Is.False);

        await RunWorkerAsync(queue, o => o.AddWorkflow<GreetingWorkflow>().AddActivity(TestActivities.Greet), async () =>
        {
            Assert.That(await handle.GetResultAsync(), Is.EqualTo("Hello, late!"));
        });
        var history = await handle.FetchHistoryAsync();
        Assert.That(history.Events.Count(e => e.EventType == EventType.WorkflowTaskTimedOut), Is.EqualTo(1));
    }

    [Test]
    public async Task WorkflowRetryPolicy_WhenEveryAttemptFails_RunsAllAttemptsThenFails()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<FailingWorkflow>(), async () =>
        {
            var handle = await Client.StartWorkflowAsync((FailingWorkflow wf) => wf.RunAsync("again"), new(NewId(), queue)
            {
                RetryPolicy = new Temporalio.Common.RetryPolicy { InitialInterval = TimeSpan.FromMilliseconds(50), MaximumAttempts = 2 },
            });

            var error = await ThrowsAsync<WorkflowFailedException>(() => handle.GetResultAsync());
            Assert.That(error.InnerException, Is.InstanceOf<ApplicationFailureException>());
            Assert.That(await Client.CountWorkflowsAsync($"WorkflowId = '{handle.Id}'"), Has.Property("Count").EqualTo(2));
        });
    }
}

[TestFixture]
[Category("Integration")]
public class StickyQueueTests : DevServerFixture
{
    [Test]
    public async Task StickyTask_WhenStickyWorkerNeverPolls_FallsBackToNormalQueueWithFullHistory()
    {
        var queue = NewQueue();
        var service = Client.WorkflowService;
        var handle = await Client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
        var first = await service.PollWorkflowTaskQueueAsync(
            new() { Namespace = "default", TaskQueue = new() { Name = queue }, Identity = "raw" });
        // Complete with a sticky queue nobody will ever poll, as a worker that died without saying so.
        await service.RespondWorkflowTaskCompletedAsync(new()
        {
            Namespace = "default",
            TaskToken = first.TaskToken,
            Identity = "raw",
            StickyAttributes = new()
            {
                WorkerTaskQueue = new() { Name = "dead-sticky-" + queue, Kind = TaskQueueKind.Sticky, NormalName = queue },
                ScheduleToStartTimeout = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(300)),
            },
        });

        await handle.SignalAsync(wf => wf.AddAsync("x"));
        var second = await service.PollWorkflowTaskQueueAsync(
            new() { Namespace = "default", TaskQueue = new() { Name = queue }, Identity = "raw" });

        Assert.Multiple(() =>
        {
            Assert.That(second.TaskToken.IsEmpty, Is.False);
            Assert.That(second.History.Events[0].EventType, Is.EqualTo(EventType.WorkflowExecutionStarted));
            Assert.That(second.History.Events.Any(e => e.EventType == EventType.WorkflowExecutionSignaled), Is.True);
            Assert.That(second.PreviousStartedEventId, Is.EqualTo(first.StartedEventId));
        });
        await handle.TerminateAsync("cleanup");
    }
}
