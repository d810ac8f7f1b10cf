using Google.Protobuf;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.Query.V1;
using Temporalio.Api.WorkflowService.V1;
using Temporalio.Client;

namespace Formanova.Tests.DevServer;

/// <summary>Queries that arrive while a workflow task is pending, driven over the raw service API.</summary>
[Category("Integration")]
public class BufferedQueryTests : DevServerFixture
{
    [Test]
    public async Task Query_WhenEveryTaskEndsWithNewEventsToProcess_IsDeliveredWithTheNextTask()
    {
        var service = Client.WorkflowService;
        var queue = NewQueue();
        var id = NewId();
        await service.StartWorkflowExecutionAsync(new()
        {
            Namespace = "default",
            WorkflowId = id,
            WorkflowType = new() { Name = "Raw" },
            TaskQueue = new() { Name = queue },
            Identity = "raw",
            RequestId = Guid.NewGuid().ToString(),
        });
        var task = await PollAsync(service, queue);
        var query = service.QueryWorkflowAsync(
            new() { Namespace = "default", Execution = new() { WorkflowId = id }, Query = new() { QueryType = "state" } });

        // A busy run: a signal lands during every task, so every completion schedules another task at once.
        string? carried = null;
        for (var round = 0; round < 50 && carried is null; round++)
        {
            await service.SignalWorkflowExecutionAsync(new()
            {
                Namespace = "default",
                WorkflowExecution = new() { WorkflowId = id },
                SignalName = "tick",
                Identity = "raw",
                RequestId = Guid.NewGuid().ToString(),
            });
            await service.RespondWorkflowTaskCompletedAsync(new() { Namespace = "default", TaskToken = task.TaskToken, Identity = "raw" });
            task = await PollAsync(service, queue);
            carried = task.Queries.Keys.SingleOrDefault();
        }

        Assert.That(carried, Is.Not.Null, "the query never rode with a task of the busy run");
        Assert.That(task.Queries[carried!].QueryType, Is.EqualTo("state"));
        var answer = new Payload
        {
            Data = ByteString.CopyFromUtf8("\"busy\""),
            Metadata = { ["encoding"] = ByteString.CopyFromUtf8("json/plain") }
        };
        await service.RespondWorkflowTaskCompletedAsync(new()
        {
            Namespace = "default",
            TaskToken = task.TaskToken,
            Identity = "raw",
            QueryResults =
            {
                [carried!] = new WorkflowQueryResult { ResultType = QueryResultType.Answered, Answer = new() { Payloads_ = { answer } } }
            },
        });

        var response = await query;
        Assert.That(response.QueryResult.Payloads_.Single().Data.ToStringUtf8(), Is.EqualTo("\"busy\""));
    }

    private static async Task<PollWorkflowTaskQueueResponse> PollAsync(WorkflowService service, string queue)
    {
        var task = await service.PollWorkflowTaskQueueAsync(
            new() { Namespace = "default", TaskQueue = new() { Name = queue }, Identity = "raw" },
            new RpcOptions { Timeout = TimeSpan.FromSeconds(10) });
        Assert.That(task.TaskToken.IsEmpty, Is.False, "no workflow task was handed out");
        return task;
    }
}
