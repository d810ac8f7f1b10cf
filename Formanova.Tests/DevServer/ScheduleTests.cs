// The SDK requires [WorkflowRun] methods to be instance members even when they keep no state.
#pragma warning disable CA1822
using Formanova.DevServer;
using Microsoft.Extensions.Time.Testing;
using Temporalio.Api.Enums.V1;
using Temporalio.Client.Schedules;
using Temporalio.Common;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Tests.DevServer;

/// <summary>
/// Schedules through the SDK's schedule client against the server, with a fake clock: each test moves the clock past
/// action times and asserts the workflows the schedule started. Action times land on whole minutes of the fake clock,
/// which starts on a whole hour.
/// </summary>
[TestFixture]
[Category("Integration")]
public class ScheduleTests : DevServerFixture
{
    // Guards against a hang only: every wait below ends on something the server or worker produces.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2030, 1, 7, 10, 0, 0, TimeSpan.Zero));

    protected override void Configure(DevServerOptions options) => options.TimeProvider = _clock;

    private DateTime Now => _clock.GetUtcNow().UtcDateTime;

    [Test]
    public async Task CreateSchedule_WithAnInterval_StartsAWorkflowAtEachIntervalNamedAfterItsNominalTime()
    {
        var queue = NewQueue();
        var id = NewId();
        await RunWorkerAsync(queue, o => o.AddWorkflow<ScheduledWorkflow>(), async () =>
        {
            var handle = await Client.CreateScheduleAsync(id, NewSchedule(queue, id, new ScheduleSpec
            {
                Intervals = [new ScheduleIntervalSpec(TimeSpan.FromMinutes(1))],
            }));
            var nextMinute = NextMinute();

            _clock.Advance(nextMinute - Now);
            var first = await WaitForActionsAsync(handle, 1);
            await Client.GetWorkflowHandle(WorkflowIdOf(first.Info.RecentActions.First())).GetResultAsync<string>().WaitAsync(Bound);
            // The default overlap policy skips an action while the previous workflow still runs.
            await WaitUntilAsync(async () => (await handle.DescribeAsync()).Info.RunningActions.Count == 0, Bound);
            _clock.Advance(TimeSpan.FromMinutes(1));
            var described = await WaitForActionsAsync(handle, 2);

            var workflowIds = described.Info.RecentActions.Select(WorkflowIdOf).ToList();
            Assert.That(workflowIds, Is.EqualTo(new[]
            {
                $"{id}-{nextMinute:yyyy-MM-ddTHH:mm:ssZ}",
                $"{id}-{nextMinute.AddMinutes(1):yyyy-MM-ddTHH:mm:ssZ}",
            }));
            Assert.That(first.Info.RecentActions.First().ScheduledAt, Is.EqualTo(nextMinute));
            var result = await Client.GetWorkflowHandle(workflowIds[1]).GetResultAsync<string>().WaitAsync(Bound);
            Assert.That(result, Is.EqualTo("ran"));
            var started = await Client.GetWorkflowHandle(workflowIds[1]).DescribeAsync();
            Assert.That(
                started.TypedSearchAttributes.Get(SearchAttributeKey.CreateKeyword("TemporalScheduledById")),
                Is.EqualTo(id));
            Assert.That(described.Info.NextActionTimes.First(), Is.EqualTo(nextMinute.AddMinutes(2)));
        });
    }

    [Test]
    public async Task CreateSchedule_WithACalendar_FiresOnlyAtMatchingSeconds()
    {
        var queue = NewQueue();
        var id = NewId();
        await RunWorkerAsync(queue, o => o.AddWorkflow<ScheduledWorkflow>(), async () =>
        {
            var handle = await Client.CreateScheduleAsync(id, NewSchedule(queue, id, new ScheduleSpec
            {
                Calendars = [new ScheduleCalendarSpec { Second = [new(15)], Minute = [new(0, 59)], Hour = [new(0, 23)] }],
            }));
            var due = NextMinute().AddMinutes(-1).AddSeconds(15);
            due = due > Now ? due : due.AddMinutes(1);

            _clock.Advance(due - Now - TimeSpan.FromSeconds(1));
            Assert.That((await handle.DescribeAsync()).Info.NumActions, Is.Zero, "a second before the calendar matches");
            _clock.Advance(TimeSpan.FromSeconds(1));
            var described = await WaitForActionsAsync(handle, 1);

            Assert.That(described.Info.RecentActions.First().ScheduledAt, Is.EqualTo(due));
            Assert.That(described.Info.NextActionTimes.Take(2), Is.EqualTo(new[] { due.AddMinutes(1), due.AddMinutes(2) }));
            Assert.That(described.Schedule.Spec.Calendars.Single().Second.Single().Start, Is.EqualTo(15));
        });
    }

    [Test]
    public async Task DeleteSchedule_WhenDeleted_DescribeIsNotFoundAndNothingFiresAnyMore()
    {
        var queue = NewQueue();
        var id = NewId();
        var handle = await Client.CreateScheduleAsync(id, NewSchedule(queue, id, new ScheduleSpec
        {
            Intervals = [new ScheduleIntervalSpec(TimeSpan.FromMinutes(1))],
        }));
        Assert.That((await handle.DescribeAsync()).Id, Is.EqualTo(id));

        await handle.DeleteAsync();
        _clock.Advance(TimeSpan.FromMinutes(2));

        var e = await ThrowsAsync<RpcException>(() => handle.DescribeAsync());
        Assert.That(e.Code, Is.EqualTo(RpcException.StatusCode.NotFound));
        var started = await Client.CountWorkflowsAsync($"TaskQueue = '{queue}'");
        Assert.That(started.Count, Is.Zero);
    }

    [Test]
    public async Task ScheduleHandle_PauseUnpauseTriggerUpdateAndList_AreReflectedInDescribeAndList()
    {
        var queue = NewQueue();
        var id = NewId();
        await RunWorkerAsync(queue, o => o.AddWorkflow<ScheduledWorkflow>(), async () =>
        {
            var schedule = NewSchedule(queue, id, new ScheduleSpec
            {
                CronExpressions = ["0 9 * * *"],
                TimeZoneName = "Asia/Tokyo",
            }) with
            {
                State = new ScheduleState { Paused = true, Note = "created paused" },
            };
            var handle = await Client.CreateScheduleAsync(id, schedule);
            var created = await handle.DescribeAsync();
            var raw = await Client.WorkflowService.DescribeScheduleAsync(new() { Namespace = "default", ScheduleId = id });
            Assert.That((created.Schedule.State.Paused, created.Schedule.State.Note), Is.EqualTo((true, "created paused")));
            // 09:00 in Tokyo is midnight UTC.
            Assert.That(created.Info.NextActionTimes.First(), Is.EqualTo(Now.Date.AddDays(1)));

            await handle.UnpauseAsync("go");
            await handle.TriggerAsync();
            var triggered = await WaitForActionsAsync(handle, 1);
            Assert.That((triggered.Schedule.State.Paused, triggered.Schedule.State.Note), Is.EqualTo((false, "go")));
            var run = Client.GetWorkflowHandle(WorkflowIdOf(triggered.Info.RecentActions.Single()));
            Assert.That(await run.GetResultAsync<string>().WaitAsync(Bound), Is.EqualTo("ran"));

            await handle.UpdateAsync(input => new ScheduleUpdate(input.Description.Schedule with
            {
                Spec = new ScheduleSpec { Intervals = [new ScheduleIntervalSpec(TimeSpan.FromMinutes(5))] },
            }));
            var updated = await handle.DescribeAsync();
            Assert.That(updated.Schedule.Spec.Intervals.Single().Every, Is.EqualTo(TimeSpan.FromMinutes(5)));
            Assert.That(updated.Schedule.Spec.Calendars, Is.Empty);
            Assert.That(updated.Info.LastUpdatedAt, Is.EqualTo(Now));

            // The token from before the update is stale: the update is refused, as on a real cluster.
            var stale = await ThrowsAsync<RpcException>(() => Client.WorkflowService.UpdateScheduleAsync(new()
            {
                Namespace = "default",
                ScheduleId = id,
                Schedule = raw.Schedule,
                ConflictToken = raw.ConflictToken,
            }));
            Assert.That(stale.Code, Is.EqualTo(RpcException.StatusCode.FailedPrecondition));

            await handle.PauseAsync("stop");
            var listed = await Client.ListSchedulesAsync(new() { Query = "TemporalSchedulePaused = true" }).ToListAsync();
            var entry = listed.Single(s => s.Id == id);
            Assert.That((entry.Schedule!.State.Paused, entry.Schedule.State.Note), Is.EqualTo((true, "stop")));
            Assert.That(entry.Info!.NextActionTimes, Has.Count.EqualTo(5));
            var unpaused = await Client.ListSchedulesAsync(new() { Query = "TemporalSchedulePaused = false" }).ToListAsync();
            Assert.That(unpaused.Select(s => s.Id), Does.Not.Contain(id));
        });
    }

    [Test]
    public async Task Backfill_OverAPastRange_StartsOneWorkflowPerMatchingTimeBothEndsIncluded()
    {
        var queue = NewQueue();
        var id = NewId();
        var handle = await Client.CreateScheduleAsync(id, NewSchedule(
            queue,
            id,
            new ScheduleSpec { Calendars = [new ScheduleCalendarSpec { Minute = [new(0, 59)], Hour = [new(0, 23)] }] },
            new SchedulePolicy { Overlap = ScheduleOverlapPolicy.AllowAll }));
        var from = NextMinute().AddMinutes(-10);

        await handle.BackfillAsync([new ScheduleBackfill(from, from.AddMinutes(2))]);

        var described = await handle.DescribeAsync();
        Assert.That(described.Info.RecentActions.Select(WorkflowIdOf), Is.EqualTo(new[]
        {
            $"{id}-{from:yyyy-MM-ddTHH:mm:ssZ}",
            $"{id}-{from.AddMinutes(1):yyyy-MM-ddTHH:mm:ssZ}",
            $"{id}-{from.AddMinutes(2):yyyy-MM-ddTHH:mm:ssZ}",
        }));
    }

    [TestCase(ScheduleOverlapPolicy.Skip, WorkflowExecutionStatus.Completed, 1)]
    [TestCase(ScheduleOverlapPolicy.BufferOne, WorkflowExecutionStatus.Completed, 2)]
    [TestCase(ScheduleOverlapPolicy.AllowAll, WorkflowExecutionStatus.Completed, 2)]
    [TestCase(ScheduleOverlapPolicy.CancelOther, WorkflowExecutionStatus.Canceled, 2)]
    [TestCase(ScheduleOverlapPolicy.TerminateOther, WorkflowExecutionStatus.Terminated, 2)]
    public async Task Trigger_WhileTheLastWorkflowRuns_FollowsTheOverlapPolicy(
        ScheduleOverlapPolicy policy,
        WorkflowExecutionStatus firstStatus,
        int actions)
    {
        var queue = NewQueue();
        var id = NewId();
        await RunWorkerAsync(queue, o => o.AddWorkflow<BlockingScheduledWorkflow>(), async () =>
        {
            var action = ScheduleActionStartWorkflow.Create((BlockingScheduledWorkflow wf) => wf.RunAsync(), new(id, queue));
            var handle = await Client.CreateScheduleAsync(id, new Schedule(action, new ScheduleSpec())
            {
                Policy = new SchedulePolicy { Overlap = policy },
            });
            await handle.TriggerAsync();
            var first = Client.GetWorkflowHandle(WorkflowIdOf((await WaitForActionsAsync(handle, 1)).Info.RecentActions.Single()));
            _clock.Advance(TimeSpan.FromSeconds(1));

            await handle.TriggerAsync();
            if (policy is ScheduleOverlapPolicy.Skip or ScheduleOverlapPolicy.BufferOne or ScheduleOverlapPolicy.AllowAll)
            {
                await first.SignalAsync((BlockingScheduledWorkflow wf) => wf.ReleaseAsync());
            }

            await WaitUntilAsync(async () => (await first.DescribeAsync()).Status == firstStatus, Bound);
            var described = await WaitForActionsAsync(handle, actions);
            Assert.That(described.Info.NumActions, Is.EqualTo(actions));
            Assert.That(described.Info.NumActionsSkippedOverlap, Is.EqualTo(policy == ScheduleOverlapPolicy.Skip ? 1 : 0));
        });
    }

    [Test]
    public async Task Firing_AfterTheClockJumpsPastTheCatchupWindow_TakesOnlyTheActionsInsideItAndCountsTheRestAsMissed()
    {
        var id = NewId();
        _clock.Advance(NextMinute() - Now);
        var handle = await Client.CreateScheduleAsync(id, NewSchedule(
            NewQueue(),
            id,
            new ScheduleSpec { Intervals = [new ScheduleIntervalSpec(TimeSpan.FromMinutes(1))] },
            new SchedulePolicy { Overlap = ScheduleOverlapPolicy.AllowAll, CatchupWindow = TimeSpan.FromMinutes(10) }));

        _clock.Advance(TimeSpan.FromMinutes(30));

        var described = await handle.DescribeAsync();
        // Actions at minutes 20 to 30 are at most 10 minutes late; minutes 1 to 19 are beyond the window.
        Assert.That(described.Info.NumActions, Is.EqualTo(11));
        Assert.That(described.Info.NumActionsMissedCatchupWindow, Is.EqualTo(19));
    }

    [Test]
    public async Task Firing_WithLimitedActions_StopsWhenNoneRemain()
    {
        var id = NewId();
        var handle = await Client.CreateScheduleAsync(id, NewSchedule(
            NewQueue(),
            id,
            new ScheduleSpec { Intervals = [new ScheduleIntervalSpec(TimeSpan.FromMinutes(1))] },
            new SchedulePolicy { Overlap = ScheduleOverlapPolicy.AllowAll }) with
        {
            State = new ScheduleState { LimitedActions = true, RemainingActions = 2 },
        });

        for (var i = 0; i < 3; i++)
        {
            _clock.Advance(TimeSpan.FromMinutes(1));
        }

        var described = await handle.DescribeAsync();
        Assert.That(described.Info.NumActions, Is.EqualTo(2));
        Assert.That(described.Schedule.State.RemainingActions, Is.Zero);
        Assert.That(described.Info.NextActionTimes, Is.Empty);
    }

    [Test]
    public async Task PauseOnFailure_WhenAScheduledWorkflowFails_PausesTheSchedule()
    {
        var queue = NewQueue();
        var id = NewId();
        await RunWorkerAsync(queue, o => o.AddWorkflow<FailingScheduledWorkflow>(), async () =>
        {
            var action = ScheduleActionStartWorkflow.Create((FailingScheduledWorkflow wf) => wf.RunAsync(), new(id, queue));
            var handle = await Client.CreateScheduleAsync(id, new Schedule(action, new ScheduleSpec())
            {
                Policy = new SchedulePolicy { PauseOnFailure = true },
            });

            await handle.TriggerAsync();

            await WaitUntilAsync(async () => (await handle.DescribeAsync()).Schedule.State.Paused, Bound);
            var described = await handle.DescribeAsync();
            Assert.That(described.Schedule.State.Note, Does.Contain("failed"));
            Assert.That(described.Info.RunningActions, Is.Empty);
        });
    }

    [Test]
    public async Task CronSchedule_OnStart_RunsAtEachCronTimeWithTheLastResultUntilTerminated()
    {
        var queue = NewQueue();
        var id = NewId();
        await RunWorkerAsync(queue, o => o.AddWorkflow<CronCounterWorkflow>(), async () =>
        {
            var nextMinute = NextMinute();
            var handle = await Client.StartWorkflowAsync(
                (CronCounterWorkflow wf) => wf.RunAsync(),
                new(id, queue) { CronSchedule = "* * * * *" });
            var firstRun = Client.GetWorkflowHandle(id, runId: handle.ResultRunId);
            var started = (await firstRun.FetchHistoryAsync()).Events.First().WorkflowExecutionStartedEventAttributes;
            Assert.That(started.FirstWorkflowTaskBackoff.ToTimeSpan(), Is.EqualTo(nextMinute - Now), "waits for the first cron time");

            _clock.Advance(nextMinute - Now);
            Assert.That(await firstRun.GetResultAsync<int>(followRuns: false).WaitAsync(Bound), Is.EqualTo(1));
            var completed = (await firstRun.FetchHistoryAsync()).Events.Last().WorkflowExecutionCompletedEventAttributes;
            var secondRun = Client.GetWorkflowHandle(id, runId: completed.NewExecutionRunId);
            var second = (await secondRun.FetchHistoryAsync()).Events.First().WorkflowExecutionStartedEventAttributes;
            Assert.That(second.Initiator, Is.EqualTo(ContinueAsNewInitiator.CronSchedule));
            Assert.That(second.FirstWorkflowTaskBackoff.ToTimeSpan(), Is.EqualTo(TimeSpan.FromMinutes(1)));
            Assert.That(second.CronSchedule, Is.EqualTo("* * * * *"));

            _clock.Advance(TimeSpan.FromMinutes(1));
            var secondResult = await secondRun.GetResultAsync<int>(followRuns: false).WaitAsync(Bound);
            Assert.That(secondResult, Is.EqualTo(2), "the last result is passed on");

            await Client.GetWorkflowHandle(id).TerminateAsync("enough");
            _clock.Advance(TimeSpan.FromMinutes(2));
            var current = await Client.GetWorkflowHandle(id).DescribeAsync();
            Assert.That(current.Status, Is.EqualTo(WorkflowExecutionStatus.Terminated), "terminate ends the chain");
            Assert.That((await Client.CountWorkflowsAsync($"WorkflowId = '{id}'")).Count, Is.EqualTo(3));
        });
    }

    private static Schedule NewSchedule(string queue, string workflowId, ScheduleSpec spec, SchedulePolicy? policy = null) =>
        new(ScheduleActionStartWorkflow.Create((ScheduledWorkflow wf) => wf.RunAsync(), new(workflowId, queue)), spec)
        {
            Policy = policy ?? new SchedulePolicy(),
        };

    private static string WorkflowIdOf(ScheduleActionResult action) => ((ScheduleActionExecutionStartWorkflow)action.Action).WorkflowId;

    private DateTime NextMinute()
    {
        var now = Now;
        return new DateTime(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, DateTimeKind.Utc).AddMinutes(1);
    }

    private static async Task<ScheduleDescription> WaitForActionsAsync(ScheduleHandle handle, int count)
    {
        ScheduleDescription? described = null;
        await WaitUntilAsync(async () => (described = await handle.DescribeAsync()).Info.NumActions >= count, Bound);
        return described!;
    }
}

[Workflow]
public class ScheduledWorkflow
{
    [WorkflowRun]
    public Task<string> RunAsync() => Task.FromResult("ran");
}

[Workflow]
public class BlockingScheduledWorkflow
{
    private bool _released;

    [WorkflowRun]
    public async Task<string> RunAsync()
    {
        await Workflow.WaitConditionAsync(() => _released);
        return "released";
    }

    [WorkflowSignal]
    public Task ReleaseAsync()
    {
        _released = true;
        return Task.CompletedTask;
    }
}

[Workflow]
public class FailingScheduledWorkflow
{
    [WorkflowRun]
    public Task RunAsync() => throw new ApplicationFailureException("scheduled run fails", nonRetryable: true);
}

[Workflow]
public class CronCounterWorkflow
{
    [WorkflowRun]
    public Task<int> RunAsync()
    {
        var last = Workflow.Info.LastResult is { Count: > 0 } result
            ? (int)Workflow.PayloadConverter.ToValue(result.First().Payload, typeof(int))!
            : 0;
        return Task.FromResult(last + 1);
    }
}
