// The SDK requires [WorkflowRun] methods to be instance members even when they keep no state.
#pragma warning disable CA1822
using Formanova.DevServer;
using Microsoft.Extensions.Time.Testing;
using Temporalio.Activities;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.History.V1;
using Temporalio.Client;
using Temporalio.Common;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Tests.DevServer;

/// <summary>
/// Server-side deadlines (activity timeouts, retry backoff, workflow timers, run timeouts, retention) driven by a
/// fake clock: each test moves the clock past a deadline and asserts what the server wrote, without waiting.
/// FakeTimeProvider fires due timers on the thread that advances it, so a deadline's effect is in place when
/// <see cref="FakeTimeProvider.Advance(TimeSpan)"/> returns.
/// </summary>
[TestFixture]
[Category("Integration")]
public class FakeClockTests : DevServerFixture
{
    // Guards against a hang only: every wait below ends on an event the server or worker produces.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);

    protected override void Configure(DevServerOptions options) => options.TimeProvider = _clock;

    [Test]
    public async Task ActivityStartToCloseTimeout_WhenClockPassesIt_RetriesAfterBackoffAndCompletes()
    {
        var queue = NewQueue();
        var activities = new ClockActivities();
        await RunWorkerAsync(queue, o => o.AddWorkflow<StartToCloseWorkflow>().AddAllActivities(activities), async () =>
        {
            var handle = await Client.StartWorkflowAsync((StartToCloseWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
            await activities.FirstAttemptStarted.Task.WaitAsync(Bound);

            _clock.Advance(TimeSpan.FromSeconds(59));
            Assert.That(await PendingActivityAsync(handle), Is.EqualTo((1, PendingActivityState.Started)));

            _clock.Advance(TimeSpan.FromSeconds(1));
            Assert.That(await PendingActivityAsync(handle), Is.EqualTo((2, PendingActivityState.Scheduled)), "backing off");

            _clock.Advance(TimeSpan.FromSeconds(10));
            Assert.That(await handle.GetResultAsync().WaitAsync(Bound), Is.EqualTo("attempt 2"));
            var started = (await handle.FetchHistoryAsync()).Events
                .Single(e => e.EventType == EventType.ActivityTaskStarted).ActivityTaskStartedEventAttributes;
            Assert.That(started.Attempt, Is.EqualTo(2));
            Assert.That(started.LastFailure.TimeoutFailureInfo.TimeoutType, Is.EqualTo(TimeoutType.StartToClose));
        });
    }

    [Test]
    public async Task ActivityHeartbeatTimeout_WhenNoHeartbeatArrives_TimesOutTheActivity()
    {
        var queue = NewQueue();
        var activities = new ClockActivities();
        await RunWorkerAsync(queue, o => o.AddWorkflow<HeartbeatTimeoutWorkflow>().AddAllActivities(activities), async () =>
        {
            var handle = await Client.StartWorkflowAsync((HeartbeatTimeoutWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
            await activities.FirstAttemptStarted.Task.WaitAsync(Bound);

            _clock.Advance(TimeSpan.FromSeconds(119));
            Assert.That(await PendingActivityAsync(handle), Is.EqualTo((1, PendingActivityState.Started)));

            _clock.Advance(TimeSpan.FromSeconds(1));
            Assert.That(await handle.GetResultAsync().WaitAsync(Bound), Is.EqualTo("Heartbeat"));
            var timedOut = (await handle.FetchHistoryAsync()).Events
                .Single(e => e.EventType == EventType.ActivityTaskTimedOut).ActivityTaskTimedOutEventAttributes;
            Assert.That(timedOut.Failure.TimeoutFailureInfo.TimeoutType, Is.EqualTo(TimeoutType.Heartbeat));
            Assert.That(timedOut.RetryState, Is.EqualTo(RetryState.MaximumAttemptsReached));
        });
    }

    [Test]
    public async Task WorkflowTimer_WhenClockReachesFireTime_FiresAndWorkflowSeesTheElapsedTime()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<HourTimerWorkflow>(), async () =>
        {
            var handle = await Client.StartWorkflowAsync((HourTimerWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
            await WaitForEventAsync(handle, EventType.TimerStarted);

            _clock.Advance(TimeSpan.FromMinutes(59));
            Assert.That(await HasEventAsync(handle, EventType.TimerFired), Is.False);

            _clock.Advance(TimeSpan.FromMinutes(1));
            Assert.That(await handle.GetResultAsync().WaitAsync(Bound), Is.GreaterThanOrEqualTo(60));
            Assert.That(await HasEventAsync(handle, EventType.TimerFired), Is.True);
        });
    }

    [Test]
    public async Task WorkflowRunTimeout_WhenClockPassesIt_TimesOutTheRun()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<WaitForeverWorkflow>(), async () =>
        {
            var handle = await Client.StartWorkflowAsync(
                (WaitForeverWorkflow wf) => wf.RunAsync(),
                new(NewId(), queue) { RunTimeout = TimeSpan.FromHours(1) });
            await WaitForEventAsync(handle, EventType.WorkflowTaskCompleted);

            _clock.Advance(TimeSpan.FromMinutes(59));
            Assert.That((await handle.DescribeAsync()).Status, Is.EqualTo(WorkflowExecutionStatus.Running));

            _clock.Advance(TimeSpan.FromMinutes(1));
            var error = await ThrowsAsync<WorkflowFailedException>(() => handle.GetResultAsync().WaitAsync(Bound));
            Assert.That(error.InnerException, Is.InstanceOf<TimeoutFailureException>());
            Assert.That((await handle.DescribeAsync()).Status, Is.EqualTo(WorkflowExecutionStatus.TimedOut));
        });
    }

    [Test]
    public async Task Retention_WhenClockPassesCloseTimePlusRetention_DeletesTheClosedRun()
    {
        var handle = await Client.StartWorkflowAsync((WaitForeverWorkflow wf) => wf.RunAsync(), new(NewId(), NewQueue()));
        await handle.TerminateAsync("closed for the retention test");

        // The "default" namespace keeps closed runs for DevServerOptions.DefaultNamespaceRetention (1 day).
        _clock.Advance(TimeSpan.FromHours(23));
        Assert.That((await handle.DescribeAsync()).Status, Is.EqualTo(WorkflowExecutionStatus.Terminated));

        _clock.Advance(TimeSpan.FromHours(1));
        await ThrowsAsync<RpcException>(() => handle.DescribeAsync());
    }

    /// <summary>Attempt and state of the run's only pending activity, as DescribeWorkflowExecution reports it.</summary>
    private async Task<(int Attempt, PendingActivityState State)> PendingActivityAsync(WorkflowHandle handle)
    {
        var description = await Client.WorkflowService.DescribeWorkflowExecutionAsync(
            new() { Namespace = "default", Execution = new() { WorkflowId = handle.Id } });
        var pending = description.PendingActivities.Single();
        return (pending.Attempt, pending.State);
    }

    private static async Task<bool> HasEventAsync(WorkflowHandle handle, EventType type) =>
        (await handle.FetchHistoryAsync()).Events.Any(e => e.EventType == type);

    /// <summary>Long-polls the history until an event of the type is written; no polling loop, no sleep.</summary>
    private static async Task<HistoryEvent> WaitForEventAsync(WorkflowHandle handle, EventType type)
    {
        using var cts = new CancellationTokenSource(Bound);
        var options = new WorkflowHistoryEventFetchOptions { WaitNewEvent = true, Rpc = new() { CancellationToken = cts.Token } };
        await foreach (var e in handle.FetchHistoryEventsAsync(options))
        {
            if (e.EventType == type)
            {
                return e;
            }
        }

        Assert.Fail($"The run closed without a {type} event.");
        throw new InvalidOperationException("unreachable");
    }
}

public class ClockActivities
{
    public TaskCompletionSource FirstAttemptStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Attempt 1 blocks until the worker shuts down, so only a server-side timeout can end it.</summary>
    [Activity]
    public async Task<string> StallFirstAttemptAsync()
    {
        var ctx = ActivityExecutionContext.Current;
        if (ctx.Info.Attempt == 1)
        {
            FirstAttemptStarted.TrySetResult();
            await Task.Delay(Timeout.Infinite, ctx.CancellationToken);
        }

        return $"attempt {ctx.Info.Attempt}";
    }
}

[Workflow]
public class StartToCloseWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync() =>
        await Workflow.ExecuteActivityAsync((ClockActivities a) => a.StallFirstAttemptAsync(), new()
        {
            StartToCloseTimeout = TimeSpan.FromMinutes(1),
            RetryPolicy = new RetryPolicy { InitialInterval = TimeSpan.FromSeconds(10), MaximumAttempts = 2 },
        });
}

[Workflow]
public class HeartbeatTimeoutWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync()
    {
        try
        {
            return await Workflow.ExecuteActivityAsync((ClockActivities a) => a.StallFirstAttemptAsync(), new()
            {
                StartToCloseTimeout = TimeSpan.FromMinutes(10),
                HeartbeatTimeout = TimeSpan.FromMinutes(2),
                RetryPolicy = new RetryPolicy { MaximumAttempts = 1 },
            });
        }
        catch (ActivityFailureException e) when (e.InnerException is TimeoutFailureException timeout)
        {
            return timeout.TimeoutType.ToString();
        }
    }
}

[Workflow]
public class HourTimerWorkflow
{
    /// <summary>Returns the workflow time that passed across a one-hour timer, in minutes.</summary>
    [WorkflowRun]
    public async Task<double> RunAsync()
    {
        var started = Workflow.UtcNow;
        await Workflow.DelayAsync(TimeSpan.FromHours(1));
        return (Workflow.UtcNow - started).TotalMinutes;
    }
}

[Workflow]
public class WaitForeverWorkflow
{
    [WorkflowRun]
    public async Task RunAsync() => await Workflow.WaitConditionAsync(() => false);
}
