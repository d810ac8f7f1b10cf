using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Exceptions;

namespace Formanova.Tests.DevServer;

[TestFixture]
[Category("Integration")]
public class ActivityTests : DevServerFixture
{
    [Test]
    public async Task ExecuteActivity_WhenFailingTwice_RetriesOnServerAndSucceeds()
    {
        var queue = NewQueue();
        var activities = new TestActivities();
        await RunWorkerAsync(queue, o => o.AddWorkflow<FlakyActivityWorkflow>().AddAllActivities(activities), async () =>
        {
            var result = await Client.ExecuteWorkflowAsync((FlakyActivityWorkflow wf) => wf.RunAsync(3, 5), new(NewId(), queue));

            Assert.That(result, Is.EqualTo("succeeded on attempt 3"));
            Assert.That(activities.FlakyCalls, Is.EqualTo(3));
        });
    }

    [Test]
    public async Task ExecuteActivity_WhenAttemptsExhausted_WorkflowSeesActivityFailure()
    {
        var queue = NewQueue();
        var activities = new TestActivities();
        await RunWorkerAsync(queue, o => o.AddWorkflow<FlakyActivityWorkflow>().AddAllActivities(activities), async () =>
        {
            var error = await ThrowsAsync<WorkflowFailedException>(() =>
                Client.ExecuteWorkflowAsync((FlakyActivityWorkflow wf) => wf.RunAsync(10, 2), new(NewId(), queue)));

            Assert.That(error.InnerException, Is.InstanceOf<ActivityFailureException>());
            Assert.That(((ActivityFailureException)error.InnerException!).RetryState, Is.EqualTo(RetryState.MaximumAttemptsReached));
            Assert.That(activities.FlakyCalls, Is.EqualTo(2));
        });
    }

    [Test]
    public async Task ExecuteActivity_WhenNonRetryable_FailsOnFirstAttempt()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<NonRetryableActivityWorkflow>().AddActivity(TestActivities.FailHard), async () =>
        {
            var result = await Client.ExecuteWorkflowAsync((NonRetryableActivityWorkflow wf) => wf.RunAsync(), new(NewId(), queue));

            Assert.That(result, Is.EqualTo("BadInput: bad input"));
        });
    }

    [Test]
    public async Task ExecuteActivity_WhenHeartbeatTimesOut_RetriesNextAttempt()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<StallingActivityWorkflow>()
            .AddActivity(TestActivities.StallFirstAttempt), async () =>
        {
            var result = await Client.ExecuteWorkflowAsync((StallingActivityWorkflow wf) => wf.RunAsync(300), new(NewId(), queue));

            Assert.That(result, Does.StartWith("attempt 2"));
        });
    }

    [Test]
    public async Task CancelActivity_WhenHeartbeating_ActivitySeesCancellation()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<CancelActivityWorkflow>()
            .AddActivity(TestActivities.HeartbeatUntilCancelled), async () =>
        {
            var handle = await Client.StartWorkflowAsync((CancelActivityWorkflow wf) => wf.RunAsync(), new(NewId(), queue));

            Assert.That(await handle.GetResultAsync(), Is.EqualTo("cancelled"));
            var history = await handle.FetchHistoryAsync();
            Assert.That(history.Events.Any(e => e.EventType == EventType.ActivityTaskCancelRequested), Is.True);
            Assert.That(history.Events.Any(e => e.EventType == EventType.ActivityTaskCanceled), Is.True);
        });
    }

    [Test]
    public async Task ScheduleActivity_WithoutRetryPolicy_TaskCarriesSeedPolicyAndTimeouts()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<GreetingWorkflow>().AddActivity(TestActivities.Greet), async () =>
        {
            var handle = await Client.StartWorkflowAsync((GreetingWorkflow wf) => wf.RunAsync("x"), new(NewId(), queue));
            await handle.GetResultAsync();

            var scheduled = (await handle.FetchHistoryAsync()).Events.Single(e => e.EventType == EventType.ActivityTaskScheduled)
                .ActivityTaskScheduledEventAttributes;
            Assert.Multiple(() =>
            {
                Assert.That(scheduled.StartToCloseTimeout.ToTimeSpan(), Is.EqualTo(TimeSpan.FromSeconds(10)));
                Assert.That(scheduled.ScheduleToCloseTimeout, Is.Not.Null);
                Assert.That(scheduled.HeartbeatTimeout, Is.Not.Null);
                Assert.That(scheduled.RetryPolicy.InitialInterval.ToTimeSpan(), Is.EqualTo(TimeSpan.FromSeconds(1)));
                Assert.That(scheduled.RetryPolicy.BackoffCoefficient, Is.EqualTo(2.0));
            });
        });
    }

    [Test]
    public async Task CompleteActivityById_WhenActivityPending_CompletesWorkflow()
    {
        var queue = NewQueue();
        var id = NewId();
        // Only a workflow worker: the activity is completed from outside by its id.
        await RunWorkerAsync(queue, o => o.AddWorkflow<GreetingWorkflow>(), async () =>
        {
            var handle = await Client.StartWorkflowAsync((GreetingWorkflow wf) => wf.RunAsync("x"), new(id, queue));
            Task<Temporalio.Api.WorkflowService.V1.DescribeWorkflowExecutionResponse> Describe() =>
                Client.WorkflowService
                    .DescribeWorkflowExecutionAsync(new() { Namespace = "default", Execution = new() { WorkflowId = id } });
            await WaitUntilAsync(async () => (await Describe()).PendingActivities.Count == 1);
            var activityId = (await Describe()).PendingActivities[0].ActivityId;

            await Client.GetAsyncActivityHandle(id, handle.ResultRunId!, activityId).HeartbeatAsync();
            var poll = await Client.WorkflowService
                .PollActivityTaskQueueAsync(new() { Namespace = "default", TaskQueue = new() { Name = queue }, Identity = "test" });
            Assert.That(poll.ActivityId, Is.EqualTo(activityId));
            await Client.GetAsyncActivityHandle(id, handle.ResultRunId!, activityId).CompleteAsync("done by id");

            Assert.That(await handle.GetResultAsync(), Is.EqualTo("done by id"));
        });
    }
}
