using Temporalio.Client;
using Temporalio.Client.Schedules;

namespace Formanova.Tests.DevServer;

public partial class DurabilityTests
{
    [Test]
    public async Task Restart_AfterSigkillAcrossAScheduleDueTime_TheMissedActionFiresWithinTheCatchupWindow()
    {
        var db = Path.Combine(_directory, "temporal.db");
        var queue = $"tq-{Guid.NewGuid():N}";
        var id = $"sched-{Guid.NewGuid():N}";
        var due = DateTime.MinValue;
        var (first, address) = await StartServerProcessAsync(db);
        try
        {
            var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address));
            var now = DateTime.UtcNow;
            due = new DateTime(now.Year, now.Month, now.Day, now.Hour, now.Minute, now.Second, DateTimeKind.Utc).AddSeconds(3);
            // One action, at a second a few seconds from now, while the server is down.
            var spec = new ScheduleSpec
            {
                Calendars =
                [
                    new ScheduleCalendarSpec
                    {
                        Second = [new(due.Second)],
                        Minute = [new(due.Minute)],
                        Hour = [new(due.Hour)],
                        DayOfMonth = [new(due.Day)],
                        Month = [new(due.Month)],
                        Year = [new(due.Year)],
                    },
                ],
            };
            var action = ScheduleActionStartWorkflow.Create((ScheduledWorkflow wf) => wf.RunAsync(), new(id, queue));
            var handle = await client.CreateScheduleAsync(id, new Schedule(action, spec));
            var described = await handle.DescribeAsync();
            Assert.That(described.Info.NumActions, Is.Zero);
            Assert.That(described.Info.NextActionTimes.First(), Is.EqualTo(due));

            await KillAsync(first);
        }
        finally
        {
            Release(first);
        }

        // The server stays down until the action time has passed (a wait on the wall clock, not on the server).
        while (DateTime.UtcNow <= due.AddMilliseconds(200))
        {
            await Task.Delay(50);
        }

        var (second, address2) = await StartServerProcessAsync(db);
        try
        {
            var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address2));
            var handle = client.GetScheduleHandle(id);
            var described = await handle.DescribeAsync();
            Assert.That(described.Info.NumActions, Is.EqualTo(1), "the missed action fired on recovery");
            Assert.That(described.Info.NumActionsMissedCatchupWindow, Is.Zero);
            var workflowId = ((ScheduleActionExecutionStartWorkflow)described.Info.RecentActions.Single().Action).WorkflowId;
            Assert.That(workflowId, Is.EqualTo($"{id}-{due:yyyy-MM-ddTHH:mm:ssZ}"));
            using var worker = new Temporalio.Worker.TemporalWorker(
                client,
                new Temporalio.Worker.TemporalWorkerOptions(queue).AddWorkflow<ScheduledWorkflow>());
            await worker.ExecuteAsync(async () =>
                Assert.That(await client.GetWorkflowHandle(workflowId).GetResultAsync<string>(), Is.EqualTo("ran")));
        }
        finally
        {
            await KillAsync(second);
            second.Dispose();
        }
    }
}
