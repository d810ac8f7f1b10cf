using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared.Errors;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

[Category("Integration")]
public sealed class PromotionSagaTests
{
    private static async Task<(FormanovaFactory Factory, HttpClient Client)> HostWithTwoVersionsAsync(
        FaultyModelModule faults,
        FailingEvents? events = null)
    {
        var factory = new FormanovaFactory(Settings(), services =>
        {
            services.Decorate<IModelModule>((inner, _) => faults.Wrap(inner));
            if (events is not null)
            {
                services.Decorate<IEventModule>((inner, _) => events.Wrap(inner));
            }
        });
        var client = await ClientAsync(factory);
        const ModelTask task = ModelTask.BinaryClassification;
        await factory.Services.GetRequiredService<IModelModule>().TrainAsync(
            new TrainModelRequest(DemoModel, "1.1.0", task, SampleData.Columns(task), Seed: 11), SampleData.RowsAsync(task, 300, 11));
        return (factory, client);
    }

    private static async Task<JsonObject> PromoteAsync(HttpClient client)
    {
        var response = await client.PostAsJsonAsync($"/api/v1/models/{DemoModel}/versions/1.1.0/promote", new { });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        return await PollAsync(client, response.Headers.Location!.ToString(), p => Status(p) is "completed" or "failed" or "cancelled");
    }

    [Test]
    public async Task Promote_WhenEveryStepSucceeds_ActivatesTheVersionAndEmitsModelActivated()
    {
        var faults = new FaultyModelModule();
        var (factory, client) = await HostWithTwoVersionsAsync(faults);
        using (factory)
        {
            var promotion = await PromoteAsync(client);

            Assert.That(Status(promotion), Is.EqualTo("completed"), promotion.ToJsonString());
            var saga = promotion["saga"]!;
            Assert.That(
                saga["completed"]!.AsArray().Select(s => (string)s!),
                Is.EqualTo(new[] { "check_load", "warm", "switch_active", "smoke_test", "emit_activated" }));
            Assert.That((string?)saga["previousVersion"], Is.EqualTo("1.0.0"));
            var model = await factory.Services.GetRequiredService<IModelModule>().GetModelAsync(DemoModel);
            Assert.That(model.ActiveVersion, Is.EqualTo("1.1.0"));
            Assert.That(model.Aliases["champion"], Is.EqualTo("1.1.0"));
            var events = await factory.Services.GetRequiredService<IEventModule>()
                .ListAsync(new EventQuery(Types: [IEventModule.ModelActivated]));
            Assert.That(events.Items.Select(e => e.Subject), Does.Contain($"{DemoModel}/1.1.0"));
        }
    }

    // One failure, the smoke test's, proves the real compensations; the fast tier (Fast/PromotionSagaFastTests.cs)
    // fails every step.
    [TestCase("predict", new[] { "restore_previous", "evict_warmed" })]
    public async Task Promote_WhenAStepFails_CompensatesTheDoneStepsInReverse(string failing, string[] compensations)
    {
        var faults = new FaultyModelModule
        {
            Before = (op, version, _, _) => op == failing && version == "1.1.0"
                ? throw new ModuleException(ErrorKind.Unprocessable, $"injected {op} failure")
                : Task.CompletedTask,
        };
        var events = new FailingEvents { FailType = failing == "emit" ? IEventModule.ModelActivated : null };
        var (factory, client) = await HostWithTwoVersionsAsync(faults, events);
        using (factory)
        {
            var promotion = await PromoteAsync(client);

            Assert.That(Status(promotion), Is.EqualTo("failed"), promotion.ToJsonString());
            var saga = promotion["saga"]!;
            Assert.Multiple(() =>
            {
                Assert.That((string?)saga["status"], Is.EqualTo("rolled-back"));
                Assert.That(saga["compensated"]!.AsArray().Select(s => (string)s!), Is.EqualTo(compensations.Append("emit_rolled_back")));
                Assert.That((string?)saga["error"], Does.Contain("injected").Or.Contain("MODEL_ACTIVATED"));
            });
            var model = await factory.Services.GetRequiredService<IModelModule>().GetModelAsync(DemoModel);
            Assert.That(model.ActiveVersion, Is.EqualTo("1.0.0"), "the previous version is active again");
            Assert.That(faults.Calls("evict") > 0, Is.EqualTo(compensations.Contains("evict_warmed")));
            var rolledBack = await factory.Services.GetRequiredService<IEventModule>()
                .ListAsync(new EventQuery(Types: [IEventModule.ModelPromotionRolledBack]));
            Assert.That(rolledBack.Items, Has.Count.EqualTo(1));
        }
    }

    [Test]
    public async Task Promote_WhenTheVersionDoesNotExist_Returns404()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync($"/api/v1/models/{DemoModel}/versions/9.9.9/promote", new { });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }
}

/// <summary>A test-only IEventModule that fails publishing one event type.</summary>
internal sealed class FailingEvents
{
    public string? FailType { get; init; }

    public IEventModule Wrap(IEventModule inner) => new Wrapper(inner, this);

    private sealed class Wrapper(IEventModule inner, FailingEvents owner) : IEventModule
    {
        public Task<PublishEventResult> PublishAsync(PublishEventRequest request, CancellationToken cancellationToken = default) =>
            request.Type == owner.FailType
                ? throw new ModuleException(ErrorKind.Unprocessable, $"injected failure publishing {request.Type}")
                : inner.PublishAsync(request, cancellationToken);

        public Task<CloudEvent?> GetAsync(long sequence, CancellationToken cancellationToken = default)
            => inner.GetAsync(sequence, cancellationToken);

        public Task<EventPage> ListAsync(EventQuery query, CancellationToken cancellationToken = default)
            => inner.ListAsync(query, cancellationToken);

        public Task<long> LatestSequenceAsync(CancellationToken cancellationToken = default)
            => inner.LatestSequenceAsync(cancellationToken);
    }
}
