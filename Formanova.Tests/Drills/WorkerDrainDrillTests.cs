using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Formanova.Tests.Drills;

/// <summary>
/// The host, as a real process (<see cref="HostProcess"/>), gets SIGTERM (a scale-in) while an activity runs: the
/// external call of a processing job, held open by a service in the test until the test lets it answer. Within
/// <c>Temporal:GracefulShutdownSeconds</c> the activity completes and the next host finishes the run without
/// calling again; past it, the attempt is cancelled, handed back, and the next host's worker runs it again.
/// </summary>
[Category("Integration")]
[Category("Drill")]
[NonParallelizable]
public sealed class WorkerDrainDrillTests
{
    private const string DrainStarted = "Beginning activity worker shutdown";

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);

    [TestCaseSource(typeof(TestDatabase), nameof(TestDatabase.ProviderCases))]
    public async Task Stop_WhenAnActivityEndsWithinTheGrace_CompletesItAndTheNextHostFinishesTheRun(DatabaseProvider provider)
    {
        await using var database = await TestDatabase.CreateAsync(provider);
        await using var external = await HeldService.StartAsync();
        var settings = Settings(database, external, graceSeconds: 120);

        // The worker drains: the call it has under way is let to answer, and the host exits once it has.
        var (job, stopped, _) = await StopDuringTheCallAsync(database, settings, external, async draining =>
        {
            await draining.WaitAsync(Deadline);
            external.Answer();
        });
        TestContext.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Drain drill ({provider}): the host exited {stopped.TotalSeconds:F1} s after SIGTERM, the activity completed"));
        Assert.Multiple(() =>
        {
            Assert.That(external.Aborted.IsCompleted, Is.False, "the call was not cancelled");
            Assert.That(stopped, Is.LessThan(TimeSpan.FromSeconds(120)), "within the grace");
        });

        await using var second = await HostProcess.StartAsync(database.DataDirectory, settings);
        var run = await FinishedAsync(second.Client, job);
        Assert.Multiple(() =>
        {
            Assert.That(WorkflowTestKit.Status(run), Is.EqualTo("completed"), run.ToJsonString());
            Assert.That((int?)run["result"]?["external"]?["body"]?["call"], Is.EqualTo(1), "the answer of the drained call");
            Assert.That(external.Calls, Is.EqualTo(1), "its completion was recorded: the next host did not call again");
            Assert.That(run["errors"]!.AsArray(), Is.Empty);
        });
    }

    [TestCaseSource(typeof(TestDatabase), nameof(TestDatabase.ProviderCases))]
    public async Task Stop_WhenAnActivityOutlastsTheGrace_HandsItBackAndTheNextHostRunsItAgain(DatabaseProvider provider)
    {
        await using var database = await TestDatabase.CreateAsync(provider);
        await using var external = await HeldService.StartAsync();
        var settings = Settings(database, external, graceSeconds: 1);

        // The call is never answered: the worker cancels it once the grace is over, reports the attempt, and exits.
        var (job, stopped, output) = await StopDuringTheCallAsync(database, settings, external, _ => external.Aborted.WaitAsync(Deadline));
        TestContext.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Drain drill ({provider}): the call was cancelled and the host exited {stopped.TotalSeconds:F1} s after SIGTERM"));

        Assert.Multiple(() =>
        {
            Assert.That(output, Has.Some.Contains("attempt 1 canceled: WorkerShutdown"), "the cancelled attempt is logged as such");
            Assert.That(output, Has.None.Contains("attempt 1 failed"), "and not as a failed attempt");
        });

        await using var second = await HostProcess.StartAsync(database.DataDirectory, settings);
        var run = await FinishedAsync(second.Client, job);
        Assert.Multiple(() =>
        {
            // Had the first host closed the step on the cancellation, the run would have completed without the answer.
            Assert.That(WorkflowTestKit.Status(run), Is.EqualTo("completed"), run.ToJsonString());
            Assert.That((int?)run["result"]?["external"]?["body"]?["call"], Is.EqualTo(2), "the answer of the attempt the next host ran");
            Assert.That(external.Calls, Is.EqualTo(2));
            Assert.That(run["errors"]!.AsArray(), Is.Empty, "the handed-back attempt is not a failure of the run");
        });
    }

    /// <summary>
    /// Starts a host, submits a job and sends SIGTERM once the job's external call is held; <paramref name="stopping"/>
    /// gets the moment the worker's drain begins. Returns the job, the time from SIGTERM to the host's clean exit, and
    /// the host's stdout.
    /// </summary>
    private static async Task<(string Job, TimeSpan Stopped, IReadOnlyList<string> Output)> StopDuringTheCallAsync(
        TestDatabase database,
        List<KeyValuePair<string, string?>> settings,
        HeldService external,
        Func<Task, Task> stopping)
    {
        await using var host = await HostProcess.StartAsync(database.DataDirectory, settings);
        var job = await SubmitAsync(host.Client);
        await external.Arrived.WaitAsync(Deadline);
        var draining = host.OutputAsync(DrainStarted);
        var stopped = Stopwatch.StartNew();
        await host.TerminateAsync();
        await stopping(draining);
        var exitCode = await host.ExitAsync(Deadline);
        Assert.That(exitCode, Is.Zero, "a clean exit, not a kill");
        return (job, stopped.Elapsed, [.. host.Output]);
    }

    private static List<KeyValuePair<string, string?>> Settings(TestDatabase database, HeldService external, int graceSeconds) =>
    [
        .. database.Settings,
        new("Model:Bootstrap:Rows", "600"),
        new("Workflows:ExternalService:Url", external.Url),
        new("Workflows:Retry:InitialIntervalSeconds", "0.05"),
        new("Workflows:Retry:MaximumIntervalSeconds", "0.2"),
        new("Temporal:GracefulShutdownSeconds", graceSeconds.ToString(CultureInfo.InvariantCulture)),
        // The line the drill waits for: the worker has stopped polling and begun its drain.
        new("Logging:LogLevel:Temporalio.Worker.ActivityWorker", "Information"),
        // And the line an attempt cancelled by the shutdown gets.
        new("Logging:LogLevel:Formanova.Host.Telemetry.TemporalWorkerInterceptor", "Information"),
    ];

    /// <summary>Submits a processing job with the external call, once the demo model is active; returns its id.</summary>
    private static async Task<string> SubmitAsync(HttpClient client)
    {
        await WorkflowTestKit.UntilAsync(async () =>
        {
            var model = await client.GetAsync($"/api/v1/models/{WorkflowTestKit.DemoModel}");
            return model.IsSuccessStatusCode && (await WorkflowTestKit.ReadAsync(model))["activeVersion"] is not null;
        }, Deadline, "the demo model to be active");
        var response = await client.PostAsJsonAsync("/api/v1/jobs", new
        {
            model = WorkflowTestKit.DemoModel,
            inputs = WorkflowTestKit.ValidInput(),
            callExternal = true,
        });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        return (string)(await WorkflowTestKit.ReadAsync(response))["id"]!;
    }

    private static Task<JsonObject> FinishedAsync(HttpClient client, string job) =>
        WorkflowTestKit.PollAsync(client, $"/api/v1/jobs/{job}", run => WorkflowTestKit.Status(run) != "running", Deadline, "the run");

    /// <summary>
    /// The external service: the first call is held until <see cref="Answer"/> (or until the caller gives up),
    /// later ones answer at once. Each answer says which call it was.
    /// </summary>
    private sealed class HeldService : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly TaskCompletionSource _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _aborted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        private HeldService(WebApplication app)
        {
            _app = app;
            app.MapPost("/enrich", async (HttpContext http) =>
            {
                var call = Interlocked.Increment(ref _calls);
                if (call == 1)
                {
                    _arrived.TrySetResult();
                    await using var abort = http.RequestAborted.Register(() => _aborted.TrySetResult());
                    await Task.WhenAny(_answer.Task, _aborted.Task);
                }

                return Results.Json(new { call });
            });
        }

        public string Url => $"{_app.Urls.First()}/enrich";

        public int Calls => Volatile.Read(ref _calls);

        /// <summary>The first call has arrived.</summary>
        public Task Arrived => _arrived.Task;

        /// <summary>The caller gave up on the first call (the activity was cancelled).</summary>
        public Task Aborted => _aborted.Task;

        public static async Task<HeldService> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
            var service = new HeldService(builder.Build());
            await service._app.StartAsync();
            return service;
        }

        public void Answer() => _answer.TrySetResult();

        public ValueTask DisposeAsync()
        {
            // A held call would otherwise keep the service's shutdown waiting.
            _answer.TrySetResult();
            return _app.DisposeAsync();
        }
    }
}
