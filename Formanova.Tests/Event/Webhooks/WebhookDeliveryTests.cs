using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Formanova.Modules.Event;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Event.Webhooks;

[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class WebhookDeliveryTests(DatabaseProvider provider)
{
    private TestDatabase _database = null!;
    private FormanovaFactory _factory = null!;
    private WebhookReceiver _receiver = null!;
    private IEventModule _events = null!;
    private IEventWebhooksModule _webhooks = null!;

    [SetUp]
    public async Task SetUp()
    {
        _database = await TestDatabase.CreateAsync(provider);
        _factory = EventTestSupport.Factory(_database.Settings);
        _receiver = await WebhookReceiver.StartAsync();
        _events = _factory.Services.GetRequiredService<IEventModule>();
        _webhooks = _factory.Services.GetRequiredService<IEventWebhooksModule>();
    }

    [TearDown]
    public async Task TearDown()
    {
        // SetUp stops early (Assert.Ignore) when PostgreSQL is not configured.
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        if (_receiver is not null)
        {
            await _receiver.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [Test]
    public async Task Deliver_WhenReceiverAnswers200_PostsOnlyMatchingTypesSignedOverTimestampAndBody()
    {
        const string secret = "test-secret-0123456789";
        var webhook = await _webhooks.CreateWebhookAsync(new CreateWebhookRequest(_receiver.Url, [IEventModule.ModelActivated], secret));
        var activated = await Publish(IEventModule.ModelActivated, new { version = 3 });
        await Publish(IEventModule.TrainingProgress, new { epoch = 1 });
        var sentinel = await Publish(IEventModule.ModelActivated, new { version = 4 });

        await _receiver.WaitForAsync(2);
        // Deliveries run concurrently, so their order at the receiver is not the log's order.
        var first = _receiver.Requests.Single(r => r.Headers["Formanova-Event-Id"] == activated.Event.Id);
        var signature = first.Headers["Formanova-Signature"].Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var expected = Convert.ToHexStringLower(
            HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{signature["t"]}.{first.Body}")));
        var body = JsonDocument.Parse(first.Body).RootElement;
        await EventTestSupport.EventuallyAsync(
            async () => (await _webhooks.ListDeliveriesAsync(webhook.Webhook.Id, DeliveryStatus.Delivered, 10)).Count,
            count => count == 2, what: "two delivered deliveries");

        Assert.Multiple(() =>
        {
            Assert.That(signature["v1"], Is.EqualTo(expected));
            Assert.That(
                long.Parse(signature["t"], System.Globalization.CultureInfo.InvariantCulture),
                Is.EqualTo(DateTimeOffset.UtcNow.ToUnixTimeSeconds()).Within(60));
            Assert.That(first.Headers["Content-Type"], Does.StartWith("application/cloudevents+json"));
            Assert.That(first.Headers["Formanova-Event-Type"], Is.EqualTo("MODEL_ACTIVATED"));
            Assert.That(body.GetProperty("data").GetProperty("version").GetInt32(), Is.EqualTo(3));
            Assert.That(
                _receiver.Requests.Select(r => r.Headers["Formanova-Event-Id"]),
                Is.EquivalentTo(new[] { activated.Event.Id, sentinel.Event.Id }));
        });
    }

    [Test]
    public async Task AttemptDelivery_WhenAlreadyDelivered_ReturnsDeliveredWithoutSendingAgain()
    {
        var webhook = await _webhooks.CreateWebhookAsync(new CreateWebhookRequest(_receiver.Url, [IEventModule.AllEventTypes]));
        await Publish(IEventModule.WorkflowCompleted, null);
        var delivered = await WaitForStatusAsync(webhook.Webhook.Id, DeliveryStatus.Delivered);

        var again = await _webhooks.AttemptDeliveryAsync(delivered.Id);

        Assert.Multiple(() =>
        {
            Assert.That(again.Outcome, Is.EqualTo(DeliveryOutcome.Delivered));
            Assert.That(again.Delivery!.Attempts, Is.EqualTo(1));
            Assert.That(_receiver.Requests, Has.Count.EqualTo(1));
        });
    }

    [Test]
    public async Task Deliver_WhenReceiverReturns500_RetriesWithGrowingDelaysThenDeadLettersAndRedeliverySucceeds()
    {
        _receiver.Behaviour = (_, _) => Task.FromResult(500);
        var webhook = await _webhooks.CreateWebhookAsync(new CreateWebhookRequest(_receiver.Url, [IEventModule.AllEventTypes]));
        await Publish(IEventModule.WorkflowFailed, new { reason = "boom" });

        var dead = await WaitForStatusAsync(webhook.Webhook.Id, DeliveryStatus.DeadLettered);
        var details = (await _webhooks.GetDeliveryAsync(dead.Id))!;
        Assert.Multiple(() =>
        {
            Assert.That(details.Attempts.Select(a => a.StatusCode), Is.EqualTo(new int?[] { 500, 500, 500 }));
            Assert.That(details.Attempts.Select(a => a.Outcome), Has.All.EqualTo(DeliveryOutcome.RetryableFailure));
            Assert.That(
                details.Attempts[1].AttemptedAt - details.Attempts[0].AttemptedAt,
                Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(40)));
            Assert.That(
                details.Attempts[2].AttemptedAt - details.Attempts[1].AttemptedAt,
                Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(80)));
            Assert.That(details.Delivery.LastError, Does.Contain("Dead-lettered after 3 attempts"));
            Assert.That(_receiver.Requests, Has.Count.EqualTo(3));
        });

        _receiver.Behaviour = (_, _) => Task.FromResult(204);
        using var client = _factory.CreateClient();
        using var redeliver = await client.PostAsync($"/api/v1/events/deliveries/{dead.Id}/redeliver", null);
        Assert.That(redeliver.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));

        var redelivered = await WaitForStatusAsync(webhook.Webhook.Id, DeliveryStatus.Delivered);
        var state = await client.GetFromJsonAsync<JsonElement>($"/api/v1/events/deliveries/{dead.Id}");
        Assert.Multiple(() =>
        {
            Assert.That(redelivered.Id, Is.EqualTo(dead.Id));
            Assert.That(state.GetProperty("delivery").GetProperty("status").GetString(), Is.EqualTo("delivered"));
            Assert.That(state.GetProperty("attempts").GetArrayLength(), Is.EqualTo(4));
        });
    }

    [Test]
    public async Task Deliver_WhenOneReceiverHangs_OthersAreDeliveredAndTheHangingOneTimesOutToDeadLetter()
    {
        await using var hanging = await WebhookReceiver.StartAsync();
        hanging.Behaviour = async (_, context) =>
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            return 200;
        };
        var stuck = await _webhooks.CreateWebhookAsync(new CreateWebhookRequest(hanging.Url, [IEventModule.AllEventTypes]));
        var healthy = await _webhooks.CreateWebhookAsync(new CreateWebhookRequest(_receiver.Url, [IEventModule.AllEventTypes]));
        await Publish(IEventModule.ProcessingCompleted, new { ok = true });

        await WaitForStatusAsync(healthy.Webhook.Id, DeliveryStatus.Delivered);
        var stuckWhileHealthyDelivered = (await _webhooks.ListDeliveriesAsync(stuck.Webhook.Id, null, 10)).Single();
        var dead = await WaitForStatusAsync(stuck.Webhook.Id, DeliveryStatus.DeadLettered, TimeSpan.FromSeconds(30));

        Assert.Multiple(() =>
        {
            Assert.That(stuckWhileHealthyDelivered.Status, Is.EqualTo(DeliveryStatus.Pending));
            Assert.That(dead.Attempts, Is.EqualTo(3));
            Assert.That(dead.LastError, Does.Contain("No response within 1 s"));
            Assert.That(dead.LastStatusCode, Is.Null);
        });
    }

    [Test]
    public async Task Deliver_WhenReceiverIsSlowerThanTheTimeoutOnce_RetriesAndDelivers()
    {
        _receiver.Behaviour = async (n, _) =>
        {
            if (n == 1)
            {
                await Task.Delay(TimeSpan.FromSeconds(2));
            }

            return 200;
        };
        var webhook = await _webhooks.CreateWebhookAsync(new CreateWebhookRequest(_receiver.Url, [IEventModule.AllEventTypes]));
        await Publish(IEventModule.DatasetImported, null);

        var delivered = await WaitForStatusAsync(webhook.Webhook.Id, DeliveryStatus.Delivered);
        var attempts = (await _webhooks.GetDeliveryAsync(delivered.Id))!.Attempts;

        Assert.Multiple(() =>
        {
            Assert.That(attempts.Select(a => a.Outcome), Is.EqualTo(new[] { DeliveryOutcome.RetryableFailure, DeliveryOutcome.Delivered }));
            Assert.That(attempts[0].Error, Does.Contain("No response within"));
        });
    }

    [Test]
    public async Task Replay_WhenARangeIsRequested_QueuesTheMatchingLoggedEventsForDelivery()
    {
        var before = new[]
        {
            await Publish(IEventModule.ModelRegistered, new { n = 1 }),
            await Publish(IEventModule.TrainingProgress, new { n = 2 }),
            await Publish(IEventModule.ModelRegistered, new { n = 3 }),
            await Publish(IEventModule.ModelRegistered, new { n = 4 }),
        };
        var webhook = await _webhooks.CreateWebhookAsync(new CreateWebhookRequest(_receiver.Url, [IEventModule.ModelRegistered]));

        var replay = await _webhooks.ReplayAsync(webhook.Webhook.Id, new ReplayRequest(0, before[2].Event.Sequence));
        await _receiver.WaitForAsync(2);
        await EventTestSupport.EventuallyAsync(
            async () => (await _webhooks.ListDeliveriesAsync(webhook.Webhook.Id, DeliveryStatus.Delivered, 10))
                .Count, c => c == 2, what: "two replayed deliveries");

        Assert.Multiple(() =>
        {
            Assert.That(replay.Queued, Is.EqualTo(2));
            Assert.That(replay.ToSequence, Is.EqualTo(before[2].Event.Sequence));
            Assert.That(
                _receiver.Requests.Select(r => r.Headers["Formanova-Event-Id"]),
                Is.EquivalentTo(new[] { before[0].Event.Id, before[2].Event.Id }));
        });
    }

    [Test]
    public async Task DeleteWebhook_WhenDeliveriesExist_RemovesThemAndAttemptsReportPermanentFailure()
    {
        _receiver.Behaviour = (_, _) => Task.FromResult(503);
        var webhook = await _webhooks.CreateWebhookAsync(new CreateWebhookRequest(_receiver.Url, [IEventModule.AllEventTypes]));
        await Publish(IEventModule.WorkflowStarted, null);
        var pending = await EventTestSupport.EventuallyAsync(
            async () => await _webhooks.ListDeliveriesAsync(webhook.Webhook.Id, null, 10), d => d.Count == 1, what: "a delivery");

        var deleted = await _webhooks.DeleteWebhookAsync(webhook.Webhook.Id);
        var attempt = await _webhooks.AttemptDeliveryAsync(pending[0].Id);

        Assert.Multiple(() =>
        {
            Assert.That(deleted, Is.True);
            Assert.That(attempt.Outcome, Is.EqualTo(DeliveryOutcome.PermanentFailure));
            Assert.That(attempt.Delivery, Is.Null);
        });
    }

    private Task<PublishEventResult> Publish(string type, object? data) =>
        _events.PublishAsync(
            new PublishEventRequest(type, "/workflows/w/runs/r", data is null ? null : JsonSerializer.SerializeToElement(data)));

    private async Task<WebhookDelivery> WaitForStatusAsync(long webhookId, DeliveryStatus status, TimeSpan? timeout = null) =>
        (await EventTestSupport.EventuallyAsync(
            async () => await _webhooks.ListDeliveriesAsync(webhookId, status, 10), d => d.Count > 0, timeout, $"a {status} delivery"))[0];
}
