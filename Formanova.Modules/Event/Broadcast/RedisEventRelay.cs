using System.Text.Json;
using Formanova.Modules.Event.Log;
using Formanova.Modules.Shared.Caching;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Formanova.Modules.Event.Broadcast;

/// <summary>Hands freshly committed events to other instances.</summary>
internal interface IEventRelay
{
    void Relay(IReadOnlyList<LoggedEvent> events);
}

/// <summary>
/// Redis pub/sub fan-out across instances. Publishing is fire-and-forget: a lost message only delays delivery
/// until the hub's next gap fill or safety poll, because the log, not Redis, is the source of truth.
/// </summary>
internal sealed class RedisEventRelay(RedisConnection redis, EventHub hub, IOptions<EventOptions> options, ILogger<RedisEventRelay> logger)
    : IEventRelay, IHostedService
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly string _origin = Guid.NewGuid().ToString("N");
    private readonly RedisChannel _channel = RedisChannel.Literal(options.Value.Broadcast.RedisChannel);
    private IConnectionMultiplexer? _multiplexer;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!redis.IsConfigured)
        {
            return;
        }

        try
        {
            _multiplexer = await redis.GetAsync();
            await _multiplexer.GetSubscriber().SubscribeAsync(_channel, (_, message) => Receive(message));
        }
        catch (RedisException exception)
        {
            logger.LogWarning(exception, "Redis pub/sub is unavailable; other instances' events arrive by polling the log");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) =>
        _multiplexer?.GetSubscriber().UnsubscribeAsync(_channel) ?? Task.CompletedTask;

    public void Relay(IReadOnlyList<LoggedEvent> events)
    {
        if (_multiplexer is not { IsConnected: true } multiplexer)
        {
            return;
        }

        var message = JsonSerializer.SerializeToUtf8Bytes(new RelayMessage(_origin, events.Select(e => e.Row).ToList()), Json);
        multiplexer.GetSubscriber().Publish(_channel, message, CommandFlags.FireAndForget);
    }

    private void Receive(RedisValue value)
    {
        try
        {
            var message = JsonSerializer.Deserialize<RelayMessage>((byte[])value!, Json);
            if (message is null || message.Origin == _origin || message.Events.Count == 0)
            {
                return;
            }

            hub.Ingest(message.Events.Select(row => new LoggedEvent(row)).ToList());
        }
        catch (JsonException exception)
        {
            logger.LogWarning(exception, "Ignored a malformed message on the Redis event channel");
        }
    }

    internal sealed record RelayMessage(string Origin, List<EventRow> Events);
}
