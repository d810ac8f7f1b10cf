// The SDK requires [WorkflowRun] methods to be instance members even when they keep no state.
#pragma warning disable CA1822
using Temporalio.Activities;
using Temporalio.Common;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Tests.DevServer;

public class TestActivities
{
    private int _flakyCalls;

    public int FlakyCalls => _flakyCalls;

    [Activity]
    public static string Greet(string name) => $"Hello, {name}!";

    /// <summary>Fails until the given attempt, so server-side retries are exercised.</summary>
    [Activity]
    public string Flaky(int succeedOnAttempt)
    {
        Interlocked.Increment(ref _flakyCalls);
        if (ActivityExecutionContext.Current.Info.Attempt < succeedOnAttempt)
        {
            throw new InvalidOperationException($"attempt {ActivityExecutionContext.Current.Info.Attempt} fails");
        }

        return $"succeeded on attempt {ActivityExecutionContext.Current.Info.Attempt}";
    }

    [Activity]
    public static void FailHard() => throw new ApplicationFailureException("bad input", errorType: "BadInput", nonRetryable: true);

    /// <summary>Heartbeats until cancelled; reports how it ended.</summary>
    [Activity]
    public static async Task<string> HeartbeatUntilCancelled()
    {
        var ctx = ActivityExecutionContext.Current;
        try
        {
            while (true)
            {
                ctx.Heartbeat("beat");
                await Task.Delay(50, ctx.CancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            throw;
        }
    }

    /// <summary>Never heartbeats on the first attempt so the heartbeat timeout fires; the retry succeeds.</summary>
    [Activity]
    public static async Task<string> StallFirstAttempt()
    {
        var ctx = ActivityExecutionContext.Current;
        if (ctx.Info.Attempt == 1)
        {
            await Task.Delay(Timeout.Infinite, ctx.CancellationToken);
        }

        return $"attempt {ctx.Info.Attempt}, details {ctx.Info.HeartbeatDetails.Count}";
    }

    /// <summary>
    /// Attempt 1 records a checkpoint in a heartbeat and then blocks; later attempts report the checkpoint they resume from.
    /// </summary>
    [Activity]
    public static async Task<string> CheckpointThenStall()
    {
        var ctx = ActivityExecutionContext.Current;
        if (ctx.Info.Attempt == 1)
        {
            ctx.Heartbeat("checkpoint-42");
            await Task.Delay(Timeout.Infinite, ctx.CancellationToken);
        }

        var resumedFrom = ctx.Info.HeartbeatDetails.Count > 0 ? await ctx.Info.HeartbeatDetailAtAsync<string>(0) : "nothing";
        return $"attempt {ctx.Info.Attempt} resumed from {resumedFrom}";
    }
}

[Workflow]
public class GreetingWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync(string name) =>
        await Workflow.ExecuteActivityAsync(() => TestActivities.Greet(name), new() { StartToCloseTimeout = TimeSpan.FromSeconds(10) });
}

[Workflow]
public class FlakyActivityWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync(int succeedOnAttempt, int maxAttempts) =>
        await Workflow.ExecuteActivityAsync((TestActivities a) => a.Flaky(succeedOnAttempt), new()
        {
            StartToCloseTimeout = TimeSpan.FromSeconds(10),
            RetryPolicy = new RetryPolicy
            {
                InitialInterval = TimeSpan.FromMilliseconds(50),
                BackoffCoefficient = 2,
                MaximumAttempts = maxAttempts
            },
        });
}

[Workflow]
public class NonRetryableActivityWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync()
    {
        try
        {
            await Workflow.ExecuteActivityAsync(() => TestActivities.FailHard(), new()
            {
                StartToCloseTimeout = TimeSpan.FromSeconds(10),
                RetryPolicy = new RetryPolicy { InitialInterval = TimeSpan.FromMilliseconds(50), MaximumAttempts = 10 },
            });
            return "no failure";
        }
        catch (ActivityFailureException e) when (e.InnerException is ApplicationFailureException app)
        {
            return $"{app.ErrorType}: {app.Message}";
        }
    }
}

[Workflow]
public class CancelActivityWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Workflow.CancellationToken);
        var activity = Workflow.ExecuteActivityAsync(() => TestActivities.HeartbeatUntilCancelled(), new()
        {
            StartToCloseTimeout = TimeSpan.FromSeconds(30),
            // The SDK sends heartbeats at most every 0.8 x this timeout; the cancel rides on a heartbeat reply.
            HeartbeatTimeout = TimeSpan.FromSeconds(2),
            CancellationToken = cts.Token,
            CancellationType = ActivityCancellationType.WaitCancellationCompleted,
        });
        await Workflow.DelayAsync(TimeSpan.FromMilliseconds(300));
        cts.Cancel();
        try
        {
            await activity;
            return "completed";
        }
        catch (ActivityFailureException e) when (e.InnerException is CanceledFailureException)
        {
            return "cancelled";
        }
    }
}

[Workflow]
public class SignalQueryWorkflow
{
    private readonly List<string> _items = [];
    private bool _done;

    [WorkflowRun]
    public async Task<string> RunAsync()
    {
        await Workflow.WaitConditionAsync(() => _done);
        return string.Join(",", _items);
    }

    [WorkflowSignal]
    public Task AddAsync(string item)
    {
        _items.Add(item);
        return Task.CompletedTask;
    }

    [WorkflowSignal]
    public Task FinishAsync()
    {
        _done = true;
        return Task.CompletedTask;
    }

    [WorkflowQuery]
    public int Count => _items.Count;
}

[Workflow]
public class TimerWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync(int delayMs)
    {
        var started = Workflow.UtcNow;
        await Workflow.DelayAsync(TimeSpan.FromMilliseconds(delayMs));
        var timedOut = !await Workflow.WaitConditionAsync(() => false, TimeSpan.FromMilliseconds(delayMs));
        return $"{(Workflow.UtcNow - started).TotalMilliseconds >= 2 * delayMs}:{timedOut}";
    }
}

[Workflow]
public class CancellableWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync()
    {
        try
        {
            await Workflow.DelayAsync(TimeSpan.FromMinutes(10));
            return "timer fired";
        }
        catch (OperationCanceledException)
        {
            // Cleanup still runs after cancellation, using a detached token.
            await Workflow.ExecuteActivityAsync(() => TestActivities.Greet("cleanup"), new()
            {
                StartToCloseTimeout = TimeSpan.FromSeconds(10),
                CancellationToken = CancellationToken.None,
            });
            throw;
        }
    }
}

[Workflow]
public class CountdownWorkflow
{
    [WorkflowRun]
    public async Task<int> RunAsync(int remaining, int total)
    {
        if (remaining > 0)
        {
            throw Workflow.CreateContinueAsNewException((CountdownWorkflow wf) => wf.RunAsync(remaining - 1, total + remaining));
        }

        await Task.CompletedTask;
        return total;
    }
}

[Workflow]
public class FailingWorkflow
{
    [WorkflowRun]
    public async Task RunAsync(string message)
    {
        await Workflow.DelayAsync(TimeSpan.FromMilliseconds(1));
        throw new ApplicationFailureException(message, errorType: "Boom");
    }
}

[Workflow]
public class ParentWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync(string mode)
    {
        switch (mode)
        {
            case "result":
                return await Workflow.ExecuteChildWorkflowAsync((GreetingWorkflow wf) => wf.RunAsync("child"));
            case "failure":
                try
                {
                    await Workflow.ExecuteChildWorkflowAsync((FailingWorkflow wf) => wf.RunAsync("child broke"));
                    return "no failure";
                }
                catch (ChildWorkflowFailureException e) when (e.InnerException is ApplicationFailureException app)
                {
                    return $"child failed: {app.Message}";
                }

            case "cancel":
                using (var cts = new CancellationTokenSource())
                {
                    var child = await Workflow.StartChildWorkflowAsync(
                        (CancellableWorkflow wf) => wf.RunAsync(),
                        new() { CancellationToken = cts.Token });
                    await Workflow.DelayAsync(TimeSpan.FromMilliseconds(200));
                    cts.Cancel();
                    try
                    {
                        await child.GetResultAsync();
                        return "not cancelled";
                    }
                    catch (ChildWorkflowFailureException e) when (e.InnerException is CanceledFailureException)
                    {
                        return "child cancelled";
                    }
                }

            default:
                // Abandoned child keeps waiting; the parent returns its id so the test can check it outlives us.
                var handle = await Workflow.StartChildWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new()
                {
                    Id = mode,
                    ParentClosePolicy = mode.StartsWith("abandon", StringComparison.Ordinal)
                        ? ParentClosePolicy.Abandon
                        : ParentClosePolicy.Terminate,
                });
                return handle.Id;
        }
    }
}

[Workflow]
public class SignalSenderWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync(string targetId)
    {
        var target = Workflow.GetExternalWorkflowHandle<SignalQueryWorkflow>(targetId);
        await target.SignalAsync(wf => wf.AddAsync("from-workflow"));
        await target.SignalAsync(wf => wf.FinishAsync());
        try
        {
            await Workflow.GetExternalWorkflowHandle("missing-" + targetId).CancelAsync();
            return "cancel delivered";
        }
        catch (ApplicationFailureException e)
        {
            return $"cancel failed: {e.Message}";
        }
    }
}

[Workflow]
public class LocalActivityWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync(string name) =>
        await Workflow.ExecuteLocalActivityAsync(
            () => TestActivities.Greet(name),
            new() { StartToCloseTimeout = TimeSpan.FromSeconds(10) });
}

[Workflow]
public class ActivityTimeoutWorkflow
{
    /// <summary>Schedules an activity on a queue nobody polls, so only the server's timeouts can end it.</summary>
    [WorkflowRun]
    public async Task<string> RunAsync(bool scheduleToStart)
    {
        try
        {
            await Workflow.ExecuteActivityAsync(() => TestActivities.Greet("nobody"), new()
            {
                TaskQueue = "unpolled-" + Workflow.Info.WorkflowId,
                ScheduleToStartTimeout = scheduleToStart ? TimeSpan.FromMilliseconds(300) : null,
                ScheduleToCloseTimeout = scheduleToStart ? null : TimeSpan.FromMilliseconds(300),
                StartToCloseTimeout = TimeSpan.FromSeconds(10),
            });
            return "completed";
        }
        catch (ActivityFailureException e) when (e.InnerException is TimeoutFailureException timeout)
        {
            return timeout.TimeoutType.ToString();
        }
    }
}

[Workflow]
public class StartedActivityTimeoutWorkflow
{
    /// <summary>
    /// An attempt that is picked up and then stalls past schedule-to-close: started, so only schedule-to-close can end
    /// it (start-to-close is far later).
    /// </summary>
    [WorkflowRun]
    public async Task<string> RunAsync()
    {
        try
        {
            await Workflow.ExecuteActivityAsync(() => TestActivities.StallFirstAttempt(), new()
            {
                ScheduleToCloseTimeout = TimeSpan.FromMilliseconds(500),
                StartToCloseTimeout = TimeSpan.FromSeconds(30),
            });
            return "completed";
        }
        catch (ActivityFailureException e) when (e.InnerException is TimeoutFailureException timeout)
        {
            return timeout.TimeoutType.ToString();
        }
    }
}

[Workflow]
public class CancelSenderWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync(string targetId)
    {
        await Workflow.GetExternalWorkflowHandle(targetId).CancelAsync();
        return "cancel delivered";
    }
}

[Workflow]
public class StallingActivityWorkflow
{
    /// <summary>
    /// Attempt 1 blocks until cancelled: only a heartbeat timeout (when heartbeatTimeoutMs &gt; 0), the 5-minute
    /// start-to-close timeout or a server crash ends it, and the retry then succeeds.
    /// </summary>
    [WorkflowRun]
    public async Task<string> RunAsync(int heartbeatTimeoutMs) =>
        await Workflow.ExecuteActivityAsync(() => TestActivities.StallFirstAttempt(), new()
        {
            StartToCloseTimeout = TimeSpan.FromMinutes(5),
            HeartbeatTimeout = heartbeatTimeoutMs > 0 ? TimeSpan.FromMilliseconds(heartbeatTimeoutMs) : null,
            RetryPolicy = new RetryPolicy { InitialInterval = TimeSpan.FromMilliseconds(50), MaximumAttempts = 3 },
        });
}

[Workflow]
public class CheckpointActivityWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync() =>
        await Workflow.ExecuteActivityAsync(() => TestActivities.CheckpointThenStall(), new()
        {
            StartToCloseTimeout = TimeSpan.FromMinutes(5),
            RetryPolicy = new RetryPolicy { InitialInterval = TimeSpan.FromMilliseconds(50), MaximumAttempts = 3 },
        });
}

[Workflow]
public class FailingTasksWorkflow
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> Activations = new();

    /// <summary>
    /// The first <paramref name="failures"/> activations throw a non-failure exception, which fails the workflow
    /// task (not the workflow); returns the activation that succeeded.
    /// </summary>
    [WorkflowRun]
    public async Task<int> RunAsync(int failures)
    {
        var activation = Activations.AddOrUpdate(Workflow.Info.WorkflowId, 1, (_, n) => n + 1);
        if (activation <= failures)
        {
            throw new InvalidOperationException($"transient bug in activation {activation}");
        }

        await Workflow.DelayAsync(TimeSpan.FromMilliseconds(1));
        return activation;
    }
}
