using Formanova.DevServer;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Worker;

namespace Formanova.Tests.DevServer;

/// <summary>
/// A closed run on a durable log keeps its summary in memory and not its events: the histories, queries, descriptions
/// and listings that need them read them back from the log, before and after a restart (in process, on the fixture's
/// temp folder).
/// </summary>
public partial class DurabilityTests
{
    [Test]
    public async Task ClosedRun_OnADurableLog_KeepsNoEventsInMemoryAndServesThemFromTheLog()
    {
        var db = Path.Combine(_directory, "temporal.db");
        var queue = $"tq-{Guid.NewGuid():N}";
        var id = $"evicted-{Guid.NewGuid():N}";
        var expectedLength = 0;
        await using (var server = new DevServerHost())
        {
            var client = await ConnectAsync(server, db);
            using var worker = Worker(client, queue);
            await worker.ExecuteAsync(async () =>
            {
                var handle = await RunToCloseAsync(client, id, queue);

                var run = server.Engine!.FindRun("default", new Temporalio.Api.Common.V1.WorkflowExecution { WorkflowId = id });
                Assert.That(run.HistoryEvicted, Is.True, "the closed run's events are only in the log");
                expectedLength = run.HistoryCount;
                await AssertServedFromTheLogAsync(client, handle, expectedLength);
                Assert.That(run.HistoryEvicted, Is.True, "reading the history back does not keep it in memory");
            });
        }

        await using (var restarted = new DevServerHost())
        {
            var client = await ConnectAsync(restarted, db);
            var run = restarted.Engine!.FindRun("default", new Temporalio.Api.Common.V1.WorkflowExecution { WorkflowId = id });
            Assert.That(run.HistoryEvicted, Is.True, "recovery replays a closed run, then lets its events go");
            using var worker = Worker(client, queue);
            await worker.ExecuteAsync(() => AssertServedFromTheLogAsync(
                client, client.GetWorkflowHandle<SignalQueryWorkflow>(id), expectedLength));
        }
    }

    [Test]
    public async Task ClosedRun_InMemoryStorage_KeepsItsEvents()
    {
        await using var server = new DevServerHost();
        var client = await ConnectAsync(server, ":memory:");
        var queue = $"tq-{Guid.NewGuid():N}";
        using var worker = Worker(client, queue);
        await worker.ExecuteAsync(async () =>
        {
            var handle = await RunToCloseAsync(client, $"kept-{Guid.NewGuid():N}", queue);

            var run = server.Engine!.FindRun("default", new Temporalio.Api.Common.V1.WorkflowExecution { WorkflowId = handle.Id });
            Assert.That(run.HistoryEvicted, Is.False, "with no log to read them back from, the events stay");
            await AssertServedFromTheLogAsync(client, handle, run.HistoryCount);
        });
    }

    /// <summary>Two items and a finish: a run of a dozen events, three of them signals.</summary>
    private static async Task<WorkflowHandle<SignalQueryWorkflow>> RunToCloseAsync(ITemporalClient client, string id, string queue)
    {
        var handle = await client.StartWorkflowAsync((SignalQueryWorkflow wf) => wf.RunAsync(), new(id, queue));
        await handle.SignalAsync(wf => wf.AddAsync("a"));
        await handle.SignalAsync(wf => wf.AddAsync("b"));
        await handle.SignalAsync(wf => wf.FinishAsync());
        Assert.That(await handle.GetResultAsync(), Is.EqualTo("a,b"));
        return handle;
    }

    private static async Task AssertServedFromTheLogAsync(
        ITemporalClient client, WorkflowHandle<SignalQueryWorkflow> handle, int expectedLength)
    {
        var history = (await handle.FetchHistoryAsync()).Events.ToList();
        var described = await handle.DescribeAsync();
        var listed = await client.ListWorkflowsAsync($"WorkflowId = '{handle.Id}'").ToListAsync();
        Assert.Multiple(() =>
        {
            Assert.That(history.Select(e => e.EventId), Is.EqualTo(Enumerable.Range(1, expectedLength).Select(i => (long)i)));
            Assert.That(history[0].EventType, Is.EqualTo(EventType.WorkflowExecutionStarted));
            Assert.That(history[^1].EventType, Is.EqualTo(EventType.WorkflowExecutionCompleted));
            Assert.That(history.Count(e => e.EventType == EventType.WorkflowExecutionSignaled), Is.EqualTo(3));
            Assert.That(described.HistoryLength, Is.EqualTo(expectedLength));
            Assert.That(listed.Select(w => (w.Id, w.Status)), Is.EqualTo(new[] { (handle.Id, WorkflowExecutionStatus.Completed) }));
        });
        // A query on a closed run hands the worker the whole history to replay.
        Assert.That(await handle.QueryAsync(wf => wf.Count), Is.EqualTo(history.Count(
            e => e.EventType == EventType.WorkflowExecutionSignaled) - 1));
    }

    private static async Task<TemporalClient> ConnectAsync(DevServerHost server, string db)
    {
        var address = await server.StartAsync(new DevServerOptions { Port = 0, StoragePath = db });
        return await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address) { Namespace = "default" });
    }

    private static TemporalWorker Worker(ITemporalClient client, string queue) =>
        new(client, new TemporalWorkerOptions(queue).AddWorkflow<SignalQueryWorkflow>());
}
