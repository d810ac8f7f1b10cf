using Temporalio.Api.Enums.V1;
using Temporalio.Client;

namespace Formanova.Tests.DevServer;

[TestFixture]
[Category("Integration")]
public class ChildWorkflowTests : DevServerFixture
{
    private static void Configure(Temporalio.Worker.TemporalWorkerOptions o) => o
        .AddWorkflow<ParentWorkflow>().AddWorkflow<GreetingWorkflow>().AddWorkflow<FailingWorkflow>()
        .AddWorkflow<CancellableWorkflow>().AddWorkflow<SignalQueryWorkflow>().AddActivity(TestActivities.Greet);

    [Test]
    public async Task ChildWorkflow_WhenCompletes_ParentGetsResult()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, Configure, async () =>
        {
            var result = await Client.ExecuteWorkflowAsync((ParentWorkflow wf) => wf.RunAsync("result"), new(NewId(), queue));
            Assert.That(result, Is.EqualTo("Hello, child!"));
        });
    }

    [Test]
    public async Task ChildWorkflow_WhenFails_ParentSeesChildFailure()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, Configure, async () =>
        {
            var result = await Client.ExecuteWorkflowAsync((ParentWorkflow wf) => wf.RunAsync("failure"), new(NewId(), queue));
            Assert.That(result, Is.EqualTo("child failed: child broke"));
        });
    }

    [Test]
    public async Task ChildWorkflow_WhenParentCancelsIt_ParentSeesCancellation()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, Configure, async () =>
        {
            var result = await Client.ExecuteWorkflowAsync((ParentWorkflow wf) => wf.RunAsync("cancel"), new(NewId(), queue));
            Assert.That(result, Is.EqualTo("child cancelled"));
        });
    }

    [Test]
    public async Task ParentClosePolicy_WhenTerminateOrAbandon_ChildIsTerminatedOrKept()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, Configure, async () =>
        {
            var terminated = await Client.ExecuteWorkflowAsync((ParentWorkflow wf) => wf.RunAsync("terminate-" + Guid.NewGuid()), new(NewId(), queue));
            var abandoned = await Client.ExecuteWorkflowAsync((ParentWorkflow wf) => wf.RunAsync("abandon-" + Guid.NewGuid()), new(NewId(), queue));

            await WaitUntilAsync(async () => (await Client.GetWorkflowHandle(terminated).DescribeAsync()).Status == WorkflowExecutionStatus.Terminated);
            Assert.That((await Client.GetWorkflowHandle(abandoned).DescribeAsync()).Status, Is.EqualTo(WorkflowExecutionStatus.Running));
            await Client.GetWorkflowHandle(abandoned).TerminateAsync("cleanup");
        });
    }
}
