using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Temporalio.Api.Command.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.WorkflowService.V1;
using Temporalio.Client;

namespace Formanova.Tests.DevServer;

[TestFixture]
[Category("Integration")]
public class EagerStartTests : DevServerFixture
{
    private static StartWorkflowExecutionRequest EagerStart(string queue) => new()
    {
        Namespace = "default",
        WorkflowId = NewId(),
        WorkflowType = new() { Name = "Raw" },
        TaskQueue = new() { Name = queue },
        Identity = "eager-worker",
        RequestId = Guid.NewGuid().ToString(),
        RequestEagerExecution = true,
    };

    // The SDK's raw client clears request_eager_execution unless one of its own workers reserved a slot for the
    // workflow, so the server's side of the exchange is checked over a plain gRPC channel.
    private async Task<StartWorkflowExecutionResponse> StartRawAsync(StartWorkflowExecutionRequest request)
    {
        using var channel = GrpcChannel.ForAddress("http://" + Address);
        var method = new Method<StartWorkflowExecutionRequest, StartWorkflowExecutionResponse>(MethodType.Unary,
            "temporal.api.workflowservice.v1.WorkflowService", "StartWorkflowExecution",
            Marshallers.Create(m => m.ToByteArray(), StartWorkflowExecutionRequest.Parser.ParseFrom),
            Marshallers.Create(m => m.ToByteArray(), StartWorkflowExecutionResponse.Parser.ParseFrom));
        return await channel.CreateCallInvoker().AsyncUnaryCall(method, null, new CallOptions(), request);
    }

    [Test]
    public async Task StartWorkflow_WithEagerExecution_ReturnsTheStartedFirstTaskAndNoPollerGetsIt()
    {
        var queue = NewQueue();
        var service = Client.WorkflowService;

        var started = await StartRawAsync(EagerStart(queue));

        var task = started.EagerWorkflowTask;
        Assert.That(task, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(task.History.Events.Select(e => e.EventType), Is.EqualTo(new[]
            {
                EventType.WorkflowExecutionStarted, EventType.WorkflowTaskScheduled, EventType.WorkflowTaskStarted,
            }));
            Assert.That(task.StartedEventId, Is.EqualTo(3));
            Assert.That(task.WorkflowExecution.RunId, Is.EqualTo(started.RunId));
            Assert.That(task.History.Events[2].WorkflowTaskStartedEventAttributes.Identity, Is.EqualTo("eager-worker"));
        });
        var polled = await service.PollWorkflowTaskQueueAsync(
            new() { Namespace = "default", TaskQueue = new() { Name = queue }, Identity = "poller" },
            new RpcOptions { Timeout = TimeSpan.FromSeconds(1) });
        Assert.That(polled.TaskToken.IsEmpty, Is.True, "the task handed out eagerly must not be handed out again");

        await service.RespondWorkflowTaskCompletedAsync(new()
        {
            Namespace = "default",
            TaskToken = task.TaskToken,
            Identity = "eager-worker",
            Commands =
            {
                new Command
                {
                    CommandType = CommandType.CompleteWorkflowExecution,
                    CompleteWorkflowExecutionCommandAttributes = new(),
                },
            },
        });
        var description = await Client.GetWorkflowHandle(task.WorkflowExecution.WorkflowId).DescribeAsync();
        Assert.That(description.Status, Is.EqualTo(WorkflowExecutionStatus.Completed));
    }

    [Test]
    public async Task StartWorkflow_WithEagerExecutionAndStartDelay_ReturnsNoTask()
    {
        var request = EagerStart(NewQueue());
        request.WorkflowStartDelay = Duration.FromTimeSpan(TimeSpan.FromHours(1));

        var started = await StartRawAsync(request);

        Assert.That(started.EagerWorkflowTask, Is.Null);
        await Client.GetWorkflowHandle(request.WorkflowId).TerminateAsync("cleanup");
    }

    [Test]
    public async Task StartWorkflow_WithEagerExecutionForARunningId_ReturnsNoTaskForTheExistingRun()
    {
        var request = EagerStart(NewQueue());
        var first = await StartRawAsync(request);
        var again = EagerStart(request.TaskQueue.Name);
        again.WorkflowId = request.WorkflowId;
        again.WorkflowIdConflictPolicy = WorkflowIdConflictPolicy.UseExisting;

        var second = await StartRawAsync(again);

        Assert.That(first.EagerWorkflowTask, Is.Not.Null);
        Assert.That(second.Started, Is.False);
        Assert.That(second.RunId, Is.EqualTo(first.RunId));
        Assert.That(second.EagerWorkflowTask, Is.Null);
        await Client.GetWorkflowHandle(request.WorkflowId).TerminateAsync("cleanup");
    }

    [Test]
    public async Task ExecuteWorkflow_WithRequestEagerStart_CompletesOnTheSameClientsWorker()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<GreetingWorkflow>().AddActivity(TestActivities.Greet), async () =>
        {
            var ids = Enumerable.Range(0, 20).Select(_ => NewId()).ToList();
            var results = await Task.WhenAll(ids.Select((id, i) => Client.ExecuteWorkflowAsync(
                (GreetingWorkflow wf) => wf.RunAsync($"eager {i}"), new(id, queue) { RequestEagerStart = true })));

            Assert.That(results, Is.EqualTo(ids.Select((_, i) => TestActivities.Greet($"eager {i}"))));
            // A worker that dropped the eager task would leave it to time out (10 s) and be retried from the queue.
            foreach (var id in ids)
            {
                var events = (await Client.GetWorkflowHandle(id).FetchHistoryAsync()).Events;
                Assert.That(events.Count(e => e.EventType == EventType.WorkflowTaskStarted), Is.EqualTo(2), id);
                Assert.That(events.Any(e => e.EventType == EventType.WorkflowTaskTimedOut), Is.False, id);
            }
        });
    }
}
