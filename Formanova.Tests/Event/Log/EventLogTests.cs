using System.Text.Json;
using Formanova.Modules.Event;
using Formanova.Modules.Event.Log;
using Formanova.Modules.Event.Webhooks;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Event.Log;

[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class EventLogTests(DatabaseProvider provider)
{
    private TestDatabase _database = null!;
    private FormanovaFactory _factory = null!;
    private IEventModule _events = null!;

    [SetUp]
    public async Task SetUp()
    {
        _database = await TestDatabase.CreateAsync(provider);
        // No dispatcher: the retention test plants deliveries that it must be the only one to touch.
        _factory = EventTestSupport.Factory([.. _database.Settings, new("Event:Webhooks:Dispatcher:Enabled", "false")]);
        _events = _factory.Services.GetRequiredService<IEventModule>();
    }

    [TearDown]
    public async Task TearDown()
    {
        // SetUp stops early (Assert.Ignore) when PostgreSQL is not configured.
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [Test]
    public async Task AppendAsync_WhenTheBatchIsEmpty_WritesNothingAndDoesNotFail()
    {
        // Two append writers wake on one queued event; the one that finds nothing left used to send an empty INSERT.
        var store = _factory.Services.GetRequiredService<Formanova.Modules.Event.Log.EventStore>();

        var rows = await store.AppendAsync([], CancellationToken.None);

        Assert.That(rows, Is.Empty);
        Assert.That((await _events.ListAsync(new EventQuery())).Items, Is.Empty);
    }

    [Test]
    public async Task LatestSequenceAsync_WhenEventsWerePublished_IsTheNewestOnesSequence()
    {
        var empty = await _events.LatestSequenceAsync();
        await _events.PublishAsync(new PublishEventRequest(IEventModule.WorkflowStarted, "/workflows/a"));
        var last = await _events.PublishAsync(new PublishEventRequest(IEventModule.WorkflowCompleted, "/workflows/a"));

        Assert.That(empty, Is.LessThan(last.Event.Sequence));
        Assert.That(await _events.LatestSequenceAsync(), Is.EqualTo(last.Event.Sequence));
    }

    [Test]
    public async Task PublishAsync_WhenIdempotencyKeyRepeats_ReturnsTheOriginalAndStoresOneEvent()
    {
        var first = await _events.PublishAsync(new PublishEventRequest(IEventModule.WorkflowStarted, "/workflows/w1/runs/r1",
            JsonSerializer.SerializeToElement(new { step = 1 }), IdempotencyKey: "w1-r1-started"));
        var again = await _events.PublishAsync(new PublishEventRequest(IEventModule.WorkflowStarted, "/workflows/w1/runs/r1",
            JsonSerializer.SerializeToElement(new { step = 2 }), IdempotencyKey: "w1-r1-started"));

        var page = await _events.ListAsync(new EventQuery());
        Assert.Multiple(() =>
        {
            Assert.That(first.Created, Is.True);
            Assert.That(again.Created, Is.False);
            Assert.That(again.Event.Id, Is.EqualTo(first.Event.Id));
            Assert.That(again.Event.Data!.Value.GetProperty("step").GetInt32(), Is.EqualTo(1));
            Assert.That(page.Items, Has.Count.EqualTo(1));
        });
    }

    [Test]
    public async Task PublishAsync_WhenManyConcurrentPublishersRepeatKeys_StoresEachKeyOnceWithIncreasingIds()
    {
        var tasks = Enumerable.Range(0, 400).Select(i => _events.PublishAsync(
            new PublishEventRequest(IEventModule.TrainingProgress, "/modules/model", IdempotencyKey: $"k{i % 200}")));
        var results = await Task.WhenAll(tasks);

        var page = await _events.ListAsync(new EventQuery(Limit: 1000));
        var ids = page.Items.Select(e => e.Sequence).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(results.Count(r => r.Created), Is.EqualTo(200));
            Assert.That(results.Select(r => r.Event.Id).Distinct().Count(), Is.EqualTo(200));
            Assert.That(ids, Has.Count.EqualTo(200));
            Assert.That(ids, Is.Ordered.Ascending);
            Assert.That(ids.Distinct().Count(), Is.EqualTo(200));
        });
    }

    [Test]
    public async Task ListAsync_WhenFilteredByTypeAndSourcePrefix_PagesThroughMatchesInOrder()
    {
        await _events.PublishAsync(new PublishEventRequest(IEventModule.WorkflowStarted, "/workflows/abc/runs/1"));
        await _events.PublishAsync(new PublishEventRequest(IEventModule.WorkflowStarted, "/workflows/abcd/runs/1"));
        await _events.PublishAsync(new PublishEventRequest(IEventModule.ModelActivated, "/workflows/abc/runs/1"));
        await _events.PublishAsync(new PublishEventRequest(IEventModule.WorkflowCompleted, "/workflows/abc"));
        await _events.PublishAsync(new PublishEventRequest(IEventModule.WorkflowCompleted, "/WORKFLOWS/abc"));

        string[] types = [IEventModule.WorkflowStarted, IEventModule.WorkflowCompleted];
        var firstPage = await _events.ListAsync(new EventQuery(Types: types, Source: "/workflows/abc", Limit: 1));
        var secondPage = await _events.ListAsync(new EventQuery(firstPage.NextAfter!.Value, types, "/workflows/abc", 1));
        var lastPage = await _events.ListAsync(new EventQuery(secondPage.NextAfter!.Value, types, "/workflows/abc", 1));

        Assert.Multiple(() =>
        {
            Assert.That(firstPage.Items.Single().Source, Is.EqualTo("/workflows/abc/runs/1"));
            Assert.That(firstPage.Items.Single().Type, Is.EqualTo(IEventModule.WorkflowStarted));
            Assert.That(secondPage.Items.Single().Type, Is.EqualTo(IEventModule.WorkflowCompleted));
            Assert.That(secondPage.Items.Single().Source, Is.EqualTo("/workflows/abc"));
            Assert.That(lastPage.Items, Is.Empty);
            Assert.That(lastPage.NextAfter, Is.Null);
        });
    }

    [Test]
    public void PublishAsync_WhenTypeSourceOrDataAreInvalid_ThrowsInvalidNamingEachField()
    {
        var big = JsonSerializer.SerializeToElement(new string('x', 70_000));
        var exception = Assert.ThrowsAsync<ModuleException>(() => _events.PublishAsync(
            new PublishEventRequest("workflow-started", "not a uri", big, IdempotencyKey: "bad\nkey")));

        Assert.Multiple(() =>
        {
            Assert.That(exception!.Kind, Is.EqualTo(ErrorKind.Invalid));
            Assert.That(exception.Errors.Keys, Is.EquivalentTo(new[] { "type", "source", "data", "idempotencyKey" }));
        });
    }

    [Test]
    public async Task SweepAsync_WhenEventsAreOlderThanRetention_DeletesOnlyThose()
    {
        var store = _factory.Services.GetRequiredService<EventStore>();
        var now = DateTimeOffset.UtcNow;
        await store.AppendAsync(
        [
            new PendingEvent("old", IEventModule.DatasetImported, "/modules/data", null, now.AddDays(-40), null, null),
            new PendingEvent("new", IEventModule.DatasetImported, "/modules/data", null, now.AddDays(-1), null, "{\"rows\":3}"),
        ], CancellationToken.None);

        // The hosted sweep also runs at start-up and may get there first; either way the outcome is the same.
        await ActivatorUtilities.CreateInstance<EventRetention>(_factory.Services).SweepAsync(CancellationToken.None);

        var remaining = await _events.ListAsync(new EventQuery());
        Assert.That(remaining.Items.Select(e => e.Data!.Value.GetProperty("rows").GetInt32()), Is.EqualTo(new[] { 3 }));
    }

    [Test]
    public async Task SweepAsync_WhenFinishedDeliveriesAreOlderThanRetention_DeletesThemButKeepsPendingOnes()
    {
        var webhooks = _factory.Services.GetRequiredService<WebhookStore>();
        var old = DateTimeOffset.UtcNow.AddDays(-40);
        var webhook = await webhooks.InsertAsync("http://127.0.0.1:9/hook", [], "0123456789abcdef", null, old, CancellationToken.None);
        await webhooks.QueueAsync(
            [new NewDelivery(webhook.Id, 1, old), new NewDelivery(webhook.Id, 2, old)],
            reset: false,
            CancellationToken.None);
        var queued = await webhooks.ListDeliveriesAsync(webhook.Id, null, 10, CancellationToken.None);
        await webhooks.DeadLetterAsync(queued.Single(d => d.EventId == 1).Id, "gave up", old, CancellationToken.None);

        await ActivatorUtilities.CreateInstance<EventRetention>(_factory.Services).SweepAsync(CancellationToken.None);

        var remaining = await webhooks.ListDeliveriesAsync(webhook.Id, null, 10, CancellationToken.None);
        Assert.That(remaining.Select(d => (d.EventId, d.Status)), Is.EqualTo(new[] { (2L, DeliveryRow.Pending) }));
    }

    [Test]
    public async Task Get_WhenARowWrittenBeforeTheInputRulesHoldsALoneSurrogate_ServesItRepairedAndTheRestOfTheHistory()
    {
        // Planted as an older version stored it: before the input rules, "\ud800" in data was logged as written.
        await using (var connection = await _database.Database.OpenConnectionAsync(CancellationToken.None))
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, """
                INSERT INTO event_log (idempotency_key, type, source, subject, time, correlation_id, data)
                VALUES ('planted', 'TEST_PLANTED', '/tests', NULL, @Time, NULL, @Data)
                """, new { Time = DateTimeOffset.UtcNow, Data = """{"note":"a\ud800b","n":1}""" });
        }

        await _events.PublishAsync(new PublishEventRequest("TEST_AFTER", "/tests", JsonSerializer.SerializeToElement(new { n = 2 })));
        using var client = _factory.CreateClient();

        using var history = await client.GetAsync("/api/v1/events?limit=10");
        var page = JsonDocument.Parse(await history.Content.ReadAsStringAsync()).RootElement;
        using var single = await client.GetAsync($"/api/v1/events/{page.GetProperty("items")[0].GetProperty("id").GetString()}");

        Assert.That(history.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.OK));
        Assert.That(
            page.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("type").GetString()),
            Is.EqualTo(new[] { "TEST_PLANTED", "TEST_AFTER" }));
        Assert.That(page.GetProperty("items")[0].GetProperty("data").GetProperty("note").GetString(), Is.EqualTo("a\uFFFDb"));
        Assert.That(single.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.OK));
    }

    [Test]
    public async Task PublishAsync_WhenDataHoldsALoneSurrogate_RefusesItNamingThePathAndStoresNothing()
    {
        var data = JsonDocument.Parse("""{"items":[{"text":"\udc00"}]}""").RootElement;

        var error = Assert.ThrowsAsync<ModuleException>(() => _events.PublishAsync(new PublishEventRequest("TEST_BAD", "/tests", data)))!;

        Assert.That(error.Kind, Is.EqualTo(ErrorKind.Invalid));
        Assert.That(error.Errors.Keys, Is.EqualTo(new[] { "data.items[0].text" }));
        Assert.That((await _events.ListAsync(new EventQuery())).Items, Is.Empty);
    }

    [Test]
    public async Task PublishAsync_WhenDataIsOverTheLimit_RefusesItUnlessADataRefSaysWhereItLives()
    {
        var large = JsonSerializer.SerializeToElement(
            new { jobId = "j1", decision = "positive", score = 0.9, text = new string('x', 70_000), list = new[] { 1, 2 } });

        var refused = Assert.ThrowsAsync<ModuleException>(
            () => _events.PublishAsync(new PublishEventRequest("TEST_LARGE", "/tests", large)))!;
        var stored = await _events.PublishAsync(new PublishEventRequest("TEST_LARGE", "/tests", large, DataRef: "/api/v1/jobs/j1"));
        var read = await _events.GetAsync(stored.Event.Sequence);

        Assert.That(refused.Kind, Is.EqualTo(ErrorKind.TooLarge));
        Assert.That(read!.DataRef, Is.EqualTo("/api/v1/jobs/j1"));
        Assert.That(read.Data!.Value.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "jobId", "decision", "score" }));
    }
}
