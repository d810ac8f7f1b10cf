using Temporalio.Api.Enums.V1;
using Temporalio.Client;

namespace Formanova.Tests.DevServer;

public partial class DurabilityTests
{
    [Test]
    public async Task Restart_AfterSigkill_PausedActivityStaysPausedUntilUnpaused()
    {
        var db = Path.Combine(_directory, "temporal.db");
        var queue = $"tq-{Guid.NewGuid():N}";
        var workflowId = $"paused-{Guid.NewGuid():N}";
        var (first, address) = await StartServerProcessAsync(db);
        try
        {
            var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address));
            // No worker polls the activity queue yet, so the activity waits, scheduled, when it is paused.
            var handle = await client.StartWorkflowAsync((GreetingWorkflow wf) => wf.RunAsync("paused"), new(workflowId, queue));
            using var workflowsOnly = new Temporalio.Worker.TemporalWorker(client, new Temporalio.Worker.TemporalWorkerOptions(queue)
                .AddWorkflow<GreetingWorkflow>());
            await workflowsOnly.ExecuteAsync(() => WaitForEventAsync(handle, EventType.ActivityTaskScheduled, atLeast: 1));
            await client.WorkflowService.PauseActivityAsync(new()
            {
                Namespace = "default",
                Execution = new() { WorkflowId = workflowId },
                Type = nameof(TestActivities.Greet),
                Identity = "operator",
                Reason = "before the crash",
            });

            await KillAsync(first);
        }
        finally
        {
            Release(first);
        }

        var (second, address2) = await StartServerProcessAsync(db);
        try
        {
            var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address2));
            using var worker = new Temporalio.Worker.TemporalWorker(client, new Temporalio.Worker.TemporalWorkerOptions(queue)
                .AddWorkflow<GreetingWorkflow>().AddActivity(TestActivities.Greet));
            await worker.ExecuteAsync(async () =>
            {
                // A pause lost in the restart would let this worker run the activity and close the workflow.
                var description = await client.WorkflowService.DescribeWorkflowExecutionAsync(
                    new() { Namespace = "default", Execution = new() { WorkflowId = workflowId } });
                var activity = description.PendingActivities.Single();
                Assert.That((activity.Paused, activity.State), Is.EqualTo((true, PendingActivityState.Paused)));
                Assert.That(activity.PauseInfo.Manual.Reason, Is.EqualTo("before the crash"));

                await client.WorkflowService.UnpauseActivityAsync(new()
                {
                    Namespace = "default",
                    Execution = new() { WorkflowId = workflowId },
                    Id = activity.ActivityId,
                });

                var result = await client.GetWorkflowHandle(workflowId).GetResultAsync<string>();
                Assert.That(result, Is.EqualTo("Hello, paused!"));
            });
        }
        finally
        {
            await KillAsync(second);
            second.Dispose();
        }
    }
}
