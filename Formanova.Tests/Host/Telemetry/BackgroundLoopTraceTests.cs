using System.Diagnostics;
using Formanova.Host.Monitoring;
using Formanova.Host.Telemetry;
using Formanova.Host.Temporal;
using Formanova.Host.Workflows.Webhooks;
using Formanova.Modules.Data.Storage;
using Formanova.Modules.Event;
using Formanova.Modules.Event.Broadcast;
using Formanova.Modules.Event.Log;
using Formanova.Modules.Event.Webhooks;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Preloading;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Event;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using static Formanova.Tests.Support.ExportedSpans;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Host.Telemetry;

/// <summary>
/// Background loops on PostgreSQL (the provider with SQL spans): a poll that finds nothing exports nothing, and work a
/// poll finds is traced under a root span of its own. The cycles are driven through the loops' own pass methods, so
/// the window is a number of polls, not a length of time.
/// </summary>
[Category("Integration")]
public sealed class BackgroundLoopTraceTests
{
    private const int Cycles = 3;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [Test]
    public async Task IdleHost_OnPostgres_ExportsNoSpanOverPollCyclesOfEveryLoop()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Postgres);
        var spans = new ExportedSpans();
        // The built-in dispatcher off registers the workflow starter, so that both delivery loops are here to drive.
        using var factory = new FormanovaFactory(
            Settings(
                ("Model:Bootstrap:Enabled", "false"),
                ("Event:Webhooks:Dispatcher:Enabled", "false"),
                ("Event:Webhooks:AllowLoopback", "true")).Concat(database.Settings),
            spans.Install);
        var services = factory.Services;
        var hosted = services.GetServices<IHostedService>().ToList();
        var hub = services.GetRequiredService<EventHub>();
        var temporal = services.GetRequiredService<IOptions<TemporalOptions>>().Value;
        await services.GetRequiredService<ModelBootstrapper>().Completed;
        await services.GetRequiredService<ModelPreloader>().Completed;
        await hub.Ready;
        // A subscription, so that the fan-out looks for events to deliver rather than only moving its cursor.
        await services.GetRequiredService<IEventWebhooksModule>().CreateWebhookAsync(
            new CreateWebhookRequest("http://127.0.0.1:9/hook", [IEventModule.AllEventTypes]));
        await One<WebhookFanOut>(hosted).FanOutAsync(CancellationToken.None);
        spans.Clear();

        for (var cycle = 0; cycle < Cycles; cycle++)
        {
            var dispatched = hub.NextDispatch;
            hub.Poke();
            await dispatched.WaitAsync(Wait);
            await One<WebhookFanOut>(hosted).FanOutAsync(CancellationToken.None);
            await One<WebhookDispatcher>(hosted).DispatchDueAsync(CancellationToken.None);
            await One<WebhookDeliveryStarter>(hosted).StartDueAsync(CancellationToken.None);
            await One<EventRetention>(hosted).SweepAsync(CancellationToken.None);
            await services.GetRequiredService<ImportStaging>().SweepAsync(CancellationToken.None);
            await One<TemporalStatsPoller>(hosted).PollAsync(temporal, CancellationToken.None);
            await services.GetRequiredService<LiveProfiles>().RefreshAsync(CancellationToken.None);
            await services.GetRequiredService<LiveProfiles>().FlushAsync(CancellationToken.None);
        }

        // The live loops ran meanwhile too: the follower's own pokes, each followed by a fan-out pass.
        for (var cycle = 0; cycle < Cycles; cycle++)
        {
            await hub.NextDispatch.WaitAsync(Wait);
        }

        Assert.That(spans.Snapshot().Select(Describe), Is.Empty);
    }

    [Test]
    public async Task Loops_OnPostgres_WhenAPollFindsWork_TraceTheWorkUnderRootSpansOfTheirOwn()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Postgres);
        await using var receiver = await WebhookReceiver.StartAsync();
        var spans = new ExportedSpans();
        using var factory = new FormanovaFactory(
            Settings(("Model:Bootstrap:Enabled", "false"), ("Event:Webhooks:AllowLoopback", "true")).Concat(database.Settings),
            spans.Install);
        var services = factory.Services;
        await services.GetRequiredService<ModelBootstrapper>().Completed;
        // The start-up preload is work of its own, not a poll: its span must not fall into the window below.
        await services.GetRequiredService<ModelPreloader>().Completed;
        await services.GetRequiredService<IEventWebhooksModule>().CreateWebhookAsync(
            new CreateWebhookRequest(receiver.Url, [IEventModule.AllEventTypes]));
        spans.Clear();

        await services.GetRequiredService<IEventModule>().PublishAsync(
            new PublishEventRequest(IEventModule.WorkflowCompleted, "/tests/loops"));
        await receiver.WaitForAsync(1);
        await UntilAsync(() => Task.FromResult(spans.Snapshot().Any(s => s.DisplayName == "DeliverWebhook")), Wait, "the delivery's span");

        var exported = spans.Snapshot();
        var fanOut = exported.Where(s => s.DisplayName == "FanOutWebhooks").ToList();
        var delivery = exported.Single(s => s.DisplayName == "DeliverWebhook");
        Assert.Multiple(() =>
        {
            Assert.That(fanOut, Has.Count.EqualTo(1), "one fan-out pass found the event");
            Assert.That(fanOut.All(IsRoot) && IsRoot(delivery), Is.True, "the work is a root of its own");
            Assert.That(
                exported.Where(s => s.ParentSpanId == fanOut.FirstOrDefault()?.SpanId).Select(Sql).OfType<string>(),
                Has.Some.Contains("INSERT INTO event_webhook_deliveries"),
                "the queued delivery's SQL is under the fan-out");
            Assert.That(
                exported.Where(s => s.ParentSpanId == delivery.SpanId).Select(s => s.Source.Name),
                Has.Member("System.Net.Http"),
                "the POST to the receiver is under the delivery");
            Assert.That(
                exported.Where(IsRoot).Select(s => s.DisplayName).Distinct(),
                Is.EquivalentTo(new[] { "AppendEvents", "FanOutWebhooks", "DeliverWebhook" }),
                "no poll is a root: only the publish (made outside any span) and the work; roots: "
                + string.Join(" | ", exported.Where(IsRoot).Select(Describe)));
        });
    }

    [Test]
    public async Task StartUp_OnPostgres_TracesModelRecoveryAndPreloadUnderRootSpansOfTheirOwn()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Postgres);
        var spans = new ExportedSpans();
        using var factory = new FormanovaFactory(
            Settings(("Model:Bootstrap:Enabled", "false")).Concat(database.Settings),
            spans.Install);
        await factory.Services.GetRequiredService<ModelBootstrapper>().Completed;
        await factory.Services.GetRequiredService<ModelPreloader>().Completed;

        var exported = spans.Snapshot();
        var recovery = exported.Single(s => s.DisplayName == "BootstrapModels");
        var preload = exported.Single(s => s.DisplayName == "PreloadModels");
        List<string> QueriesUnder(Activity parent) =>
            [.. exported.Where(s => s.ParentSpanId == parent.SpanId).Select(Sql).OfType<string>()];
        // The schema's migrations run before both, roots of their own; the start-up work's reads are what must not be.
        Assert.Multiple(() =>
        {
            Assert.That(IsRoot(recovery) && IsRoot(preload), Is.True, "start-up work belongs to no request");
            Assert.That(QueriesUnder(recovery), Has.Some.Contains("FROM model_versions"), "the recovery reads the registry");
            Assert.That(QueriesUnder(preload), Has.Some.Contains("FROM model_access"), "the preload reads recent traffic");
            Assert.That(QueriesUnder(preload), Has.Some.Contains("FROM model_experiments"), "and the live experiments");
            Assert.That(
                exported.Where(IsRoot).Where(s => Sql(s) is { } sql && sql.Contains("FROM model_")).Select(Describe),
                Is.Empty,
                "no start-up read is a root of its own");
        });
    }

    private static T One<T>(List<IHostedService> hosted) => hosted.OfType<T>().Single();
}
