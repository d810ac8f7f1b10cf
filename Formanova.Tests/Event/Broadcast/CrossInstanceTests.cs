using Formanova.Modules.Event;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Event.Broadcast;

/// <summary>Two hosts on one PostgreSQL database: a stream on one sees what the other publishes.</summary>
[Category("Integration")]
public sealed class CrossInstanceTests
{
    [Test]
    public async Task Stream_WhenAnotherInstancePublishesAndRedisIsConfigured_ReceivesThroughPubSub()
    {
        var redis = TestServices.Redis();
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Postgres);
        KeyValuePair<string, string?>[] settings =
        [
            .. database.Settings,
            new("Cache:Redis", redis),
            TestServices.RedisTimeout,
            new("Event:Broadcast:RedisChannel", $"formanova:events:test:{Guid.NewGuid():N}"),
            // Ten minutes: the safety poll cannot be what delivers within this test.
            new("Event:Broadcast:RedisPollIntervalMilliseconds", "600000"),
        ];

        await AssertCrossInstanceDeliveryAsync(settings);
    }

    [Test]
    public async Task Stream_WhenAnotherInstancePublishesWithoutRedis_ReceivesByPollingTheLog()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Postgres);
        KeyValuePair<string, string?>[] settings = [.. database.Settings, new("Event:Broadcast:PollIntervalMilliseconds", "100")];

        await AssertCrossInstanceDeliveryAsync(settings);
    }

    private static async Task AssertCrossInstanceDeliveryAsync(IEnumerable<KeyValuePair<string, string?>> settings)
    {
        await using var publisher = EventTestSupport.Factory(settings);
        await using var listener = EventTestSupport.Factory(settings);
        var events = publisher.Services.GetRequiredService<IEventModule>();
        using var client = listener.CreateClient();
        using var response = await client.GetAsync("/api/v1/events/stream?type=MODEL_ACTIVATED", HttpCompletionOption.ResponseHeadersRead);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        await sse.WaitForCommentAsync("connected", TimeSpan.FromSeconds(10));

        var published = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            published.Add((await events.PublishAsync(new PublishEventRequest(IEventModule.ModelActivated, "/modules/model"))).Event.Id);
            await events.PublishAsync(new PublishEventRequest(IEventModule.TrainingProgress, "/modules/model"));
        }

        var received = new List<string?>();
        for (var i = 0; i < 5; i++)
        {
            received.Add((await sse.NextAsync(TimeSpan.FromSeconds(10))).Id);
        }

        Assert.That(received, Is.EqualTo(published));
    }
}
