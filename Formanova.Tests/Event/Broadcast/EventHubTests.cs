using Formanova.Modules.Event;
using Formanova.Modules.Event.Broadcast;
using Formanova.Modules.Event.Log;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Event.Broadcast;

public sealed class EventHubTests
{
    [Test]
    public async Task Dispatch_WhenOneSubscriberOverflows_ClosesItWithAReasonAndKeepsServingTheOthers()
    {
        await using var factory = EventTestSupport.Factory();
        var hub = factory.Services.GetRequiredService<EventHub>();
        await hub.Ready;
        using var slow = hub.Subscribe(EventFilter.All, bufferSize: 2);
        using var healthy = hub.Subscribe(EventFilter.All, bufferSize: 100);

        hub.Ingest(Enumerable.Range(1, 5).Select(i => Event(hub.LastSequence + i)).ToList());

        var received = new List<long>();
        while (received.Count < 5)
        {
            received.Add((await healthy.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10))).Sequence);
        }

        var buffered = new List<long>();
        while (slow.Reader.TryRead(out var e))
        {
            buffered.Add(e.Sequence);
        }

        var closed = Assert.ThrowsAsync<SubscriberClosedException>(() => slow.Reader.Completion);
        Assert.Multiple(() =>
        {
            Assert.That(received, Is.Ordered.Ascending.And.Count.EqualTo(5));
            Assert.That(buffered, Is.EqualTo(received.Take(2)));
            Assert.That(closed!.Message, Does.Contain("fell 2 events behind"));
            Assert.That(hub.SubscriberCount, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Ingest_WhenABatchArrivesBeyondAHole_FillsTheHoleFromTheLogFirstAndDropsRepeats()
    {
        await using var factory = EventTestSupport.Factory();
        var hub = factory.Services.GetRequiredService<EventHub>();
        var store = factory.Services.GetRequiredService<EventStore>();
        await hub.Ready;
        using var subscription = hub.Subscribe(EventFilter.All);

        // Rows committed by "another instance": in the log, but never announced to this hub.
        var start = hub.LastSequence;
        var rows = await store.AppendAsync(
            Enumerable.Range(0, 3)
                .Select(i => new PendingEvent(
                    $"other-{i}",
                    IEventModule.ModelFallback,
                    "/modules/model",
                    null,
                    DateTimeOffset.UtcNow,
                    null,
                    null))
                .ToList(),
            CancellationToken.None);
        var last = new LoggedEvent(rows[^1].Row);
        hub.Ingest([last]);
        hub.Ingest([last, new LoggedEvent(rows[0].Row)]);
        hub.Poke();

        // The hub handles its input in order, so a repeat would show up before this sentinel.
        var sentinel = await store.AppendAsync(
            [new PendingEvent("sentinel", IEventModule.ModelFallback, "/modules/model", null, DateTimeOffset.UtcNow, null, null)],
            CancellationToken.None);
        hub.Ingest([new LoggedEvent(sentinel[0].Row)]);

        var received = new List<long>();
        while (received.LastOrDefault() != sentinel[0].Row.Id)
        {
            received.Add((await subscription.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10))).Sequence);
        }

        Assert.Multiple(() =>
        {
            Assert.That(received, Is.EqualTo(rows.Select(r => r.Row.Id).Append(sentinel[0].Row.Id)));
            Assert.That(received[0], Is.GreaterThan(start));
        });
    }

    private static LoggedEvent Event(long sequence) => new(new EventRow
    {
        Id = sequence,
        IdempotencyKey = $"k{sequence}",
        Type = IEventModule.TrainingProgress,
        Source = "/modules/model",
        Time = DateTimeOffset.UtcNow,
    });
}
