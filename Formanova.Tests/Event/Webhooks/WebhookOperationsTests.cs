using Formanova.Modules.Event;
using Formanova.Modules.Event.Log;
using Formanova.Modules.Event.Webhooks;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Formanova.Tests.Event.Webhooks;

/// <summary>The operations a durable delivery workflow will drive, with the built-in dispatcher switched off.</summary>
[Category("Integration")]
public sealed class WebhookOperationsTests
{
    private FormanovaFactory _factory = null!;
    private WebhookReceiver _receiver = null!;
    private IEventWebhooksModule _webhooks = null!;
    private IEventModule _events = null!;

    [SetUp]
    public async Task SetUp()
    {
        _factory = EventTestSupport.Factory([new("Event:Webhooks:Dispatcher:Enabled", "false")]);
        _receiver = await WebhookReceiver.StartAsync();
        _webhooks = _factory.Services.GetRequiredService<IEventWebhooksModule>();
        _events = _factory.Services.GetRequiredService<IEventModule>();
    }

    [TearDown]
    public async Task TearDown()
    {
        await _factory.DisposeAsync();
        await _receiver.DisposeAsync();
    }

    [Test]
    public async Task AttemptDelivery_WhenTheDispatcherIsOff_IsDrivenStepByStepByTheCaller()
    {
        _receiver.Behaviour = (n, _) => Task.FromResult(n == 1 ? 500 : 200);
        var webhook = await _webhooks.CreateWebhookAsync(new CreateWebhookRequest(_receiver.Url, [IEventModule.AllEventTypes]));
        var published = await _events.PublishAsync(new PublishEventRequest(IEventModule.WorkflowCompleted, "/workflows/w/runs/r"));
        var due = await DueDeliveryOfAsync(webhook.Webhook.Id, published);

        var first = await _webhooks.AttemptDeliveryAsync(due[0].Id);
        var second = await _webhooks.AttemptDeliveryAsync(due[0].Id);

        Assert.Multiple(() =>
        {
            Assert.That(first.Outcome, Is.EqualTo(DeliveryOutcome.RetryableFailure));
            Assert.That(first.StatusCode, Is.EqualTo(500));
            Assert.That(first.Delivery!.Status, Is.EqualTo(DeliveryStatus.Pending));
            Assert.That(first.Delivery.NextAttemptAt, Is.GreaterThan(first.Delivery.UpdatedAt));
            Assert.That(second.Outcome, Is.EqualTo(DeliveryOutcome.Delivered));
            Assert.That(second.Delivery!.Attempts, Is.EqualTo(2));
            Assert.That(_receiver.Requests.Select(r => r.Headers["Formanova-Attempt"]), Is.EqualTo(new[] { "1", "2" }));
            Assert.That(
                _receiver.Requests.Select(r => r.Headers["Formanova-Delivery-Id"]).Distinct().Single(),
                Is.EqualTo(due[0].Id.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        });
    }

    [Test]
    public async Task MarkDeadLettered_WhenPending_StopsTheDeliveryAndAttemptsReportPermanentFailure()
    {
        var webhook = await _webhooks.CreateWebhookAsync(new CreateWebhookRequest(_receiver.Url, [IEventModule.AllEventTypes]));
        var published = await _events.PublishAsync(new PublishEventRequest(IEventModule.WorkflowFailed, "/workflows/w/runs/r"));
        var due = await DueDeliveryOfAsync(webhook.Webhook.Id, published);

        var dead = await _webhooks.MarkDeadLetteredAsync(due[0].Id, "Workflow gave up after its own retry policy.");
        var attempt = await _webhooks.AttemptDeliveryAsync(due[0].Id);

        Assert.Multiple(() =>
        {
            Assert.That(dead.Status, Is.EqualTo(DeliveryStatus.DeadLettered));
            Assert.That(dead.LastError, Is.EqualTo("Workflow gave up after its own retry policy."));
            Assert.That(attempt.Outcome, Is.EqualTo(DeliveryOutcome.PermanentFailure));
            Assert.That(_receiver.Requests, Is.Empty);
            Assert.ThrowsAsync<Formanova.Modules.Shared.Errors.ModuleException>(() => _webhooks.MarkDeadLetteredAsync(987654, "x"));
        });
    }

    [Test]
    public async Task Send_WhenTheHostResolvesToAForbiddenAddressAtConnectTime_FailsPermanentlyWithoutConnecting()
    {
        // A subscription accepted earlier (or a DNS answer that changed since) must still be refused on connect.
        var strict = Options.Create(new EventOptions { Webhooks = { AllowLoopback = false, TimeoutSeconds = 2 } });
        using var sender = new WebhookSender(new UrlGuard(strict), strict, TimeProvider.System);
        var e = new LoggedEvent(new EventRow
        {
            Id = 1,
            IdempotencyKey = "k",
            Type = IEventModule.ModelFallback,
            Source = "/modules/model",
            Time = DateTimeOffset.UtcNow
        });

        var result = await sender.SendAsync(
            new Uri(_receiver.Url.Replace("127.0.0.1", "localhost", StringComparison.Ordinal)),
            "0123456789abcdef",
            1,
            1,
            e,
            CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(result.Outcome, Is.EqualTo(DeliveryOutcome.PermanentFailure));
            Assert.That(result.Error, Does.Contain("loopback"));
            Assert.That(_receiver.Requests, Is.Empty);
        });
    }

    /// <summary>Waits for the fan-out to queue the one delivery of this event to this webhook.</summary>
    private async Task<IReadOnlyList<WebhookDelivery>> DueDeliveryOfAsync(long webhookId, PublishEventResult published)
    {
        var sequence = long.Parse(published.Event.Id, System.Globalization.CultureInfo.InvariantCulture);
        var due = await EventTestSupport.EventuallyAsync(
            () => _webhooks.ListDueDeliveriesAsync(10),
            d => d.Any(x => x.WebhookId == webhookId && x.EventSequence == sequence),
            what: $"the delivery of event {sequence} to webhook {webhookId}");
        return [.. due.Where(x => x.WebhookId == webhookId && x.EventSequence == sequence)];
    }
}
