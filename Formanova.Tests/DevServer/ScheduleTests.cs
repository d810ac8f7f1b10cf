// The SDK requires [WorkflowRun] methods to be instance members even when they keep no state.
#pragma warning disable CA1822
using Formanova.DevServer;
using Microsoft.Extensions.Time.Testing;
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
