using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Exceptions;
using Temporalio.Worker;

namespace Formanova.Tests.DevServer;

/// <summary>Workflow updates across a SIGKILL of the server (the child-process pattern of <see cref="DurabilityTests"/>).</summary>
public partial class DurabilityTests
{
    [Test]
    public async Task Restart_AfterSigkill_AnAcceptedUpdateCompletesAndAnAdmittedOneIsSentAgainByTheClient()
    {
        var db = Path.Combine(_directory, "temporal.db");
        var queue = $"tq-{Guid.NewGuid():N}";
        var idleQueue = $"tq-{Guid.NewGuid():N}";
        var acceptedId = $"accepted-{Guid.NewGuid():N}";
        var admittedId = $"admitted-{Guid.NewGuid():N}";
        var (first, address) = await StartServerProcessAsync(db);
        Task oldWorker;
        TemporalWorker firstWorker;
        try
        {
            var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address));
            firstWorker = new TemporalWorker(client, new TemporalWorkerOptions(queue) { GracefulShutdownTimeout = TimeSpan.Zero }
                .AddWorkflow<UpdateCounterWorkflow>());
            var stop = new CancellationTokenSource();
            var running = firstWorker.ExecuteAsync(stop.Token);

            var handle = await client.StartWorkflowAsync((UpdateCounterWorkflow wf) => wf.RunAsync(0), new(acceptedId, queue));
            await handle.StartUpdateAsync(
                wf => wf.AddWhenReleasedAsync(5),
                new WorkflowUpdateStartOptions("pending", WorkflowUpdateStage.Accepted));

            // No worker polls this queue: the update stays admitted, in the server's memory only.
            var idle = await client.StartWorkflowAsync((UpdateCounterWorkflow wf) => wf.RunAsync(0), new(admittedId, idleQueue));
            _ = idle.ExecuteUpdateAsync(wf => wf.AddAsync(3), new("admitted")).ContinueWith(_ => { }, TaskScheduler.Default);
            await WaitForUpdateStageAsync(client, admittedId, "admitted", UpdateWorkflowExecutionLifecycleStage.Admitted);

            await KillAsync(first);
            await stop.CancelAsync();
            oldWorker = running.ContinueWith(_ => stop.Dispose(), TaskScheduler.Default);
        }
        finally
        {
            Release(first);
        }

        var (second, address2) = await StartServerProcessAsync(db);
        try
        {
            var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address2));
            using var worker = new TemporalWorker(client, new TemporalWorkerOptions(queue).AddWorkflow<UpdateCounterWorkflow>());
            using var idleWorker = new TemporalWorker(client, new TemporalWorkerOptions(idleQueue).AddWorkflow<UpdateCounterWorkflow>());
            await worker.ExecuteAsync(() => idleWorker.ExecuteAsync(async () =>
            {
                // The accepted update is in the event log: the replayed workflow finishes it and its outcome is pollable.
                var handle = client.GetWorkflowHandle<UpdateCounterWorkflow>(acceptedId);
                await handle.SignalAsync(wf => wf.ReleaseAsync());
                Assert.That(await handle.GetUpdateHandle<int>("pending").GetResultAsync(), Is.EqualTo(5));

                // The admitted one died with the process, as on Temporal; the client's retry (same id) sends it again.
                var idle = client.GetWorkflowHandle<UpdateCounterWorkflow>(admittedId);
                RpcException? lost = null;
                try
                {
                    await idle.GetUpdateHandle<int>("admitted").GetResultAsync();
                }
                catch (RpcException e)
                {
                    lost = e;
                }

                Assert.That(lost?.Code, Is.EqualTo(RpcException.StatusCode.NotFound));
                Assert.That(await idle.ExecuteUpdateAsync(wf => wf.AddAsync(3), new("admitted")), Is.EqualTo(3));
            }));
        }
        finally
        {
            await oldWorker;
            firstWorker.Dispose();
            await KillAsync(second);
            second.Dispose();
        }
    }

    private static async Task WaitForUpdateStageAsync(
        TemporalClient client,
        string workflowId,
        string updateId,
        UpdateWorkflowExecutionLifecycleStage stage)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(45);
        while (true)
        {
            try
            {
                var poll = await client.WorkflowService.PollWorkflowExecutionUpdateAsync(new()
                {
                    Namespace = "default",
                    UpdateRef = new() { WorkflowExecution = new() { WorkflowId = workflowId }, UpdateId = updateId },
                });
                if (poll.Stage == stage)
                {
                    return;
                }
            }
            catch (RpcException e) when (e.Code == RpcException.StatusCode.NotFound)
            {
                // Not admitted yet.
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Update {updateId} of {workflowId} never reached {stage}.");
            }

            await Task.Delay(20);
        }
    }
}
