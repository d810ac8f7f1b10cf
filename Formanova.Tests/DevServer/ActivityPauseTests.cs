// The SDK requires [WorkflowRun] methods to be instance members even when they keep no state.
#pragma warning disable CA1822
using Formanova.DevServer;
using Microsoft.Extensions.Time.Testing;
using Temporalio.Activities;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.Workflow.V1;
using Temporalio.Client;
using Temporalio.Common;
using Temporalio.Workflows;

namespace Formanova.Tests.DevServer;

/// <summary>
/// PauseActivity, UnpauseActivity and ResetActivity driven through the SDK's raw workflow service, with a fake
/// clock so that "no retry while paused" is checked by moving the clock past the backoff instead of waiting.
/// </summary>
[TestFixture]
[Category("Integration")]
public class ActivityPauseTests : DevServerFixture
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);

    protected override void Configure(DevServerOptions options) => options.TimeProvider = _clock;

    private static void FastHeartbeats(Temporalio.Worker.TemporalWorkerOptions options)
    {
        // The SDK sends heartbeats at most this often: the pause reaches the attempt on its next heartbeat.
        options.MaxHeartbeatThrottleInterval = TimeSpan.FromMilliseconds(50);
        options.DefaultHeartbeatThrottleInterval = TimeSpan.FromMilliseconds(50);
    }

    [Test]
    public async Task PauseActivity_WhenAttemptRuns_AttemptHearsPausedAndNoRetryRunsUntilUnpaused()
    {
        var queue = NewQueue();
        var activities = new PauseActivities();
        await RunWorkerAsync(queue, o =>
        {
            FastHeartbeats(o);
            o.AddWorkflow<PausableWorkflow>().AddAllActivities(activities);
        }, async () =>
        {
            var handle = await Client.StartWorkflowAsync((PausableWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
            await activities.FirstCallStarted.Task.WaitAsync(Bound);

            await Client.WorkflowService.PauseActivityAsync(new()
            {
                Namespace = "default",
                Execution = new() { WorkflowId = handle.Id },
                Id = "work",
                Identity = "operator",
                Reason = "maintenance",
            });

            Assert.That(await activities.FirstCallCancelled.Task.WaitAsync(Bound), Is.EqualTo(ActivityCancelReason.Paused));
            var paused = await WaitForActivityAsync(handle, a => !IsRunning(a) && a.Attempt == 2);
            Assert.That(paused.Paused, Is.True);
            Assert.That(paused.State, Is.EqualTo(PendingActivityState.Paused));
            Assert.That(paused.PauseInfo.Manual.Identity, Is.EqualTo("operator"));
            Assert.That(paused.PauseInfo.Manual.Reason, Is.EqualTo("maintenance"));

            // Far past the one-second backoff: a retry would be dispatched now, but the activity stays paused.
            _clock.Advance(TimeSpan.FromMinutes(5));
            var stillPaused = await PendingActivityAsync(handle);
            Assert.That((stillPaused.State, stillPaused.Attempt, activities.Calls), Is.EqualTo((PendingActivityState.Paused, 2, 1)));

            await Client.WorkflowService.UnpauseActivityAsync(new()
            {
                Namespace = "default",
                Execution = new() { WorkflowId = handle.Id },
                Type = nameof(PauseActivities.Work),
                ResetAttempts = true,
            });

            Assert.That(await handle.GetResultAsync().WaitAsync(Bound), Is.EqualTo("call 2, attempt 1"));
        });
    }

    [Test]
    public async Task ResetActivity_WhenWaitingForItsNextAttempt_RestartsAtAttemptOneAtOnce()
    {
        var queue = NewQueue();
        var activities = new PauseActivities();
        await RunWorkerAsync(queue, o => o.AddWorkflow<FailTwiceWorkflow>().AddAllActivities(activities), async () =>
        {
            var handle = await Client.StartWorkflowAsync((FailTwiceWorkflow wf) => wf.RunAsync(), new(NewId(), queue));
            // The first retry comes after a second, the second after an hour the clock never reaches.
            await WaitForActivityAsync(handle, a => a.Attempt == 2);
            _clock.Advance(TimeSpan.FromSeconds(1));
            var waiting = await WaitForActivityAsync(handle, a => a.Attempt == 3);
            Assert.That(waiting.State, Is.EqualTo(PendingActivityState.Scheduled));

            await Client.WorkflowService.ResetActivityAsync(new()
            {
                Namespace = "default",
                Execution = new() { WorkflowId = handle.Id },
                Type = nameof(PauseActivities.FailTwice),
                ResetHeartbeat = true,
            });

            Assert.That(await handle.GetResultAsync().WaitAsync(Bound), Is.EqualTo("call 3, attempt 1"));
        });
    }

    [Test]
    public async Task PauseActivity_WhenNoActivityHasTheId_IsNotFound()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<WaitForeverWorkflow>(), async () =>
        {
            var handle = await Client.StartWorkflowAsync((WaitForeverWorkflow wf) => wf.RunAsync(), new(NewId(), queue));

            var error = await ThrowsAsync<Temporalio.Exceptions.RpcException>(() => Client.WorkflowService.PauseActivityAsync(new()
            {
                Namespace = "default",
                Execution = new() { WorkflowId = handle.Id },
                Id = "missing",
            }));

            Assert.That(error.Code, Is.EqualTo(Temporalio.Exceptions.RpcException.StatusCode.NotFound));
            await handle.TerminateAsync();
        });
    }

    private static bool IsRunning(PendingActivityInfo activity) =>
        activity.State is PendingActivityState.Started or PendingActivityState.PauseRequested;

    private async Task<PendingActivityInfo> PendingActivityAsync(WorkflowHandle handle)
    {
        var description = await Client.WorkflowService.DescribeWorkflowExecutionAsync(new()
        {
            Namespace = "default",
            Execution = new() { WorkflowId = handle.Id },
        });
        return description.PendingActivities.Single();
    }

    private async Task<PendingActivityInfo> WaitForActivityAsync(WorkflowHandle handle, Func<PendingActivityInfo, bool> reached)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            var description = await Client.WorkflowService.DescribeWorkflowExecutionAsync(new()
            {
                Namespace = "default",
                Execution = new() { WorkflowId = handle.Id },
            });
            if (description.PendingActivities.FirstOrDefault(reached) is { } activity)
            {
                return activity;
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the activity never reached the expected state");
            await Task.Delay(20);
        }
    }
}

public class PauseActivities
{
    private int _calls;

    public int Calls => _calls;

    public TaskCompletionSource FirstCallStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource<ActivityCancelReason> FirstCallCancelled { get; } =
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The first call heartbeats until the server tells it something; later calls return at once.</summary>
    [Activity]
    public async Task<string> Work()
    {
        var ctx = ActivityExecutionContext.Current;
        var call = Interlocked.Increment(ref _calls);
        if (call == 1)
        {
            FirstCallStarted.TrySetResult();
            try
            {
                while (true)
                {
                    ctx.Heartbeat();
                    await Task.Delay(20, ctx.CancellationToken);
                }
            }
            catch (OperationCanceledException)
            {
                FirstCallCancelled.TrySetResult(ctx.CancelReason);
                throw;
            }
        }

        return $"call {call}, attempt {ctx.Info.Attempt}";
    }

    [Activity]
    public string FailTwice()
    {
        var call = Interlocked.Increment(ref _calls);
        return call <= 2
            ? throw new InvalidOperationException($"call {call} fails")
            : $"call {call}, attempt {ActivityExecutionContext.Current.Info.Attempt}";
    }
}

[Workflow]
public class PausableWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync() =>
        await Workflow.ExecuteActivityAsync((PauseActivities a) => a.Work(), new()
        {
            ActivityId = "work",
            StartToCloseTimeout = TimeSpan.FromHours(1),
            RetryPolicy = new RetryPolicy { InitialInterval = TimeSpan.FromSeconds(1), MaximumAttempts = 10 },
        });
}

[Workflow]
public class FailTwiceWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync() =>
        await Workflow.ExecuteActivityAsync((PauseActivities a) => a.FailTwice(), new()
        {
            StartToCloseTimeout = TimeSpan.FromHours(1),
            RetryPolicy = new RetryPolicy
            {
                InitialInterval = TimeSpan.FromSeconds(1),
                BackoffCoefficient = 3600,
                MaximumInterval = TimeSpan.FromHours(1),
                MaximumAttempts = 10,
            },
        });
}
