using System.Diagnostics;
using System.Text.RegularExpressions;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;

namespace Formanova.Tests.DevServer;

/// <summary>
/// Runs the standalone server as a child process on a temp SQLite file, kills it with SIGKILL mid-flight and
/// restarts it on the same file: the event log must carry every workflow forward.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public partial class DurabilityTests
{
    private string _directory = "";

    [SetUp]
    public void CreateDirectory()
    {
        _directory = Path.Combine(Path.GetTempPath(), "devserver-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void DeleteDirectory()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A lingering file handle only leaves a temp folder behind.
        }
    }

    [GeneratedRegex(@"listening on (\S+)")]
    private static partial Regex ListeningRegex();

    /// <summary>SIGKILLs the server and waits until it is gone, as a crash would leave it.</summary>
    private static async Task KillAsync(Process server)
    {
        server.Kill(entireProcessTree: true);
        await server.WaitForExitAsync();
    }

    /// <summary>The clean-up of every kill-and-restart test: a server still running when the test failed is killed.</summary>
    private static void Release(Process server)
    {
        if (!server.HasExited)
        {
            server.Kill(entireProcessTree: true);
        }

        server.Dispose();
    }

    private static async Task<(Process Process, string Address)> StartServerProcessAsync(string db)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Formanova.DevServer.dll");
        var info = new ProcessStartInfo("dotnet", ["exec", dll, "--port", "0", "--db", db])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(info)!;
        process.ErrorDataReceived += (_, e) => TestContext.Progress.WriteLine("server err: " + e.Data);
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (ListeningRegex().Match(line) is { Success: true } match)
            {
                // Keep draining stdout: a full pipe would block the server's logging and stall it.
                var output = process.StandardOutput;
                _ = Task.Run(async () =>
                {
                    while (await output.ReadLineAsync() is { } rest)
                    {
                        TestContext.Progress.WriteLine("server: " + rest);
                    }
                });
                return (process, match.Groups[1].Value);
            }
        }

        throw new InvalidOperationException("The server process exited before listening.");
    }

    [Test]
    public async Task Restart_AfterSigkill_RunningWorkflowsTimersAndActivitiesContinueWithTheirHeartbeatDetails()
    {
        var db = Path.Combine(_directory, "temporal.db");
        var queue = $"tq-{Guid.NewGuid():N}";
        var (first, address) = await StartServerProcessAsync(db);
        string signalId, timerId, activityId, checkpointId;
        Task oldWorker;
        Temporalio.Worker.TemporalWorker firstWorker;
        try
        {
            var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address));
            var signalHandle = await client.StartWorkflowAsync(
                (SignalQueryWorkflow wf) => wf.RunAsync(),
                new($"sig-{Guid.NewGuid():N}", queue));
            var timerHandle = await client.StartWorkflowAsync(
                (TimerWorkflow wf) => wf.RunAsync(1000),
                new($"timer-{Guid.NewGuid():N}", queue));
            var activityHandle = await client.StartWorkflowAsync(
                (StallingActivityWorkflow wf) => wf.RunAsync(0),
                new($"act-{Guid.NewGuid():N}", queue));
            var checkpointHandle = await client.StartWorkflowAsync(
                (CheckpointActivityWorkflow wf) => wf.RunAsync(),
                new($"hb-{Guid.NewGuid():N}", queue));
            (signalId, timerId, activityId, checkpointId) = (signalHandle.Id, timerHandle.Id, activityHandle.Id, checkpointHandle.Id);
            firstWorker = new Temporalio.Worker.TemporalWorker(client, new Temporalio.Worker.TemporalWorkerOptions(queue)
            {
                GracefulShutdownTimeout = TimeSpan.Zero,
            }.AddWorkflow<SignalQueryWorkflow>().AddWorkflow<TimerWorkflow>().AddWorkflow<StallingActivityWorkflow>().AddActivity(
                TestActivities.StallFirstAttempt)
                .AddWorkflow<CheckpointActivityWorkflow>().AddActivity(TestActivities.CheckpointThenStall));
            var stop = new CancellationTokenSource();
            var running = firstWorker.ExecuteAsync(stop.Token);

            await signalHandle.SignalAsync(wf => wf.AddAsync("before"));
            // The signal may ride on the first task or on a later one; either way a task completed after it.
            await WaitForHistoryAsync(signalHandle, "a task completed after the signal", events =>
                events.Any(e => e.EventType == EventType.WorkflowTaskCompleted
                    && e.WorkflowTaskCompletedEventAttributes.StartedEventId > events.First(
                        s => s.EventType == EventType.WorkflowExecutionSignaled).EventId));
            await WaitForEventAsync(timerHandle, EventType.TimerStarted, atLeast: 1);
            await WaitForEventAsync(activityHandle, EventType.ActivityTaskScheduled, atLeast: 1);
            await WaitUntilStartedAsync(client, activityHandle.Id);
            await WaitUntilAsync(client, checkpointHandle.Id, "the checkpoint heartbeat", a => a.HeartbeatDetails is not null);

            await KillAsync(first);
            await stop.CancelAsync();
            // The dead server's worker keeps retrying its last calls for a while; it is awaited at the end.
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
            using var worker = new Temporalio.Worker.TemporalWorker(client, new Temporalio.Worker.TemporalWorkerOptions(queue)
                .AddWorkflow<SignalQueryWorkflow>().AddWorkflow<TimerWorkflow>().AddWorkflow<StallingActivityWorkflow>().AddActivity(
                    TestActivities.StallFirstAttempt)
                .AddWorkflow<CheckpointActivityWorkflow>().AddActivity(TestActivities.CheckpointThenStall));
            await worker.ExecuteAsync(async () =>
            {
                var signalHandle = client.GetWorkflowHandle<SignalQueryWorkflow>(signalId);
                await signalHandle.SignalAsync(wf => wf.AddAsync("after"));
                await signalHandle.SignalAsync(wf => wf.FinishAsync());

                Assert.That(await signalHandle.GetResultAsync<string>(), Is.EqualTo("before,after"));
                Assert.That(await client.GetWorkflowHandle(timerId).GetResultAsync<string>(), Is.EqualTo("True:True"));
                // Attempt 1 was running when the server died; it counts as timed out and attempt 2 succeeds.
                Assert.That(await client.GetWorkflowHandle(activityId).GetResultAsync<string>(), Does.StartWith("attempt 2"));
                // The heartbeat details of the attempt that died with the server reach the next attempt.
                Assert.That(
                    await client.GetWorkflowHandle(checkpointId).GetResultAsync<string>(),
                    Is.EqualTo("attempt 2 resumed from checkpoint-42"));
            });
        }
        finally
        {
            await oldWorker;
            firstWorker.Dispose();
            await KillAsync(second);
            second.Dispose();
        }
    }

    private static Task WaitUntilStartedAsync(TemporalClient client, string workflowId) =>
        WaitUntilAsync(client, workflowId, "the activity start", a => a.State == PendingActivityState.Started);

    private static async Task WaitUntilAsync(
        TemporalClient client,
        string workflowId,
        string what,
        Func<Temporalio.Api.Workflow.V1.PendingActivityInfo, bool> reached)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(45);
        while (true)
        {
            var description = await client.WorkflowService
                .DescribeWorkflowExecutionAsync(new() { Namespace = "default", Execution = new() { WorkflowId = workflowId } });
            if (description.PendingActivities.Any(reached))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"{what} of {workflowId} never happened.");
            }

            await Task.Delay(20);
        }
    }

    private static Task WaitForEventAsync(WorkflowHandle handle, EventType type, int atLeast) =>
        WaitForHistoryAsync(handle, $"{atLeast} x {type}", events => events.Count(e => e.EventType == type) >= atLeast);

    private static async Task WaitForHistoryAsync(
        WorkflowHandle handle,
        string what,
        Func<IReadOnlyCollection<Temporalio.Api.History.V1.HistoryEvent>, bool> reached)
    {
        // Generous: the child process starts cold on a shared machine.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(45);
        while (true)
        {
            var events = (await handle.FetchHistoryAsync()).Events;
            if (reached(events))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"{what} not reached in {handle.Id}; history: {string.Join(", ", events.Select(e => e.EventType))}");
            }

            await Task.Delay(20);
        }
    }
}
