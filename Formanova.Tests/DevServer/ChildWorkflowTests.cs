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

    [TestCase("result", "Hello, child!", TestName = "ChildWorkflow_WhenCompletes_ParentGetsResult")]
    [TestCase("failure", "child failed: child broke", TestName = "ChildWorkflow_WhenFails_ParentSeesChildFailure")]
    [TestCase("cancel", "child cancelled", TestName = "ChildWorkflow_WhenParentCancelsIt_ParentSeesCancellation")]
    public async Task ChildWorkflow_Outcome_ReachesParent(string mode, string expected)
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, Configure, async () =>
        {
            var result = await Client.ExecuteWorkflowAsync((ParentWorkflow wf) => wf.RunAsync(mode), new(NewId(), queue));
            Assert.That(result, Is.EqualTo(expected));
        });
    }

    [Test]
    public async Task ParentClosePolicy_WhenTerminateOrAbandon_ChildIsTerminatedOrKept()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, Configure, async () =>
        {
            var terminated = await Client.ExecuteWorkflowAsync(
                (ParentWorkflow wf) => wf.RunAsync("terminate-" + Guid.NewGuid()),
                new(NewId(), queue));
            var abandoned = await Client.ExecuteWorkflowAsync(
                (ParentWorkflow wf) => wf.RunAsync("abandon-" + Guid.NewGuid()),
                new(NewId(), queue));

            await WaitUntilAsync(
                async () => (await Client.GetWorkflowHandle(terminated).DescribeAsync()).Status == WorkflowExecutionStatus.Terminated);
            Assert.That((await Client.GetWorkflowHandle(abandoned).DescribeAsync()).Status, Is.EqualTo(WorkflowExecutionStatus.Running));
            await Client.GetWorkflowHandle(abandoned).TerminateAsync("cleanup");
        });
    }
}
