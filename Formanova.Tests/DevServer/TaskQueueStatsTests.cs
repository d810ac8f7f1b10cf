using Temporalio.Api.Enums.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.Tests.DevServer;

[TestFixture]
[Category("Integration")]
public class TaskQueueStatsTests : DevServerFixture
{
    [Test]
    public async Task DescribeTaskQueue_WhenTasksWaitForAWorker_ReportsTheBacklogPerTaskType()
    {
        var queue = NewQueue();
        await Client.StartWorkflowAsync((GreetingWorkflow wf) => wf.RunAsync("a"), new(NewId(), queue));
        await Client.StartWorkflowAsync((GreetingWorkflow wf) => wf.RunAsync("b"), new(NewId(), queue));
        Assert.That(await BacklogAsync(queue, TaskQueueType.Workflow), Is.EqualTo(2));

        // A worker without activities polls only workflow tasks: both runs schedule an activity nobody takes.
        await RunWorkerAsync(queue, o => o.AddWorkflow<GreetingWorkflow>(), async () =>
            await WaitUntilAsync(async () => await BacklogAsync(queue, TaskQueueType.Activity) == 2));

        Assert.That(await BacklogAsync(queue, TaskQueueType.Workflow), Is.Zero);
    }

    [Test]
    public async Task DescribeTaskQueue_WithoutReportStats_AnswersWithoutStats()
    {
        var response = await Client.WorkflowService.DescribeTaskQueueAsync(new DescribeTaskQueueRequest
        {
            Namespace = "default",
            TaskQueue = new Temporalio.Api.TaskQueue.V1.TaskQueue { Name = NewQueue() },
            TaskQueueType = TaskQueueType.Activity,
        });

        Assert.That(response.Stats, Is.Null);
    }

    private async Task<long> BacklogAsync(string queue, TaskQueueType type) =>
        (await Client.WorkflowService.DescribeTaskQueueAsync(new DescribeTaskQueueRequest
        {
            Namespace = "default",
            TaskQueue = new Temporalio.Api.TaskQueue.V1.TaskQueue { Name = queue },
            TaskQueueType = type,
            ReportStats = true,
        })).Stats.ApproximateBacklogCount;
}
