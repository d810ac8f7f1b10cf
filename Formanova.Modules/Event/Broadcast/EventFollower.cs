using Formanova.Modules.Shared.Caching;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Event.Broadcast;

/// <summary>
/// Makes the hub read the log on a timer, so events appended by other instances reach this instance's
/// subscribers within the poll interval. With Redis the interval is only a safety net for lost pub/sub messages.
/// </summary>
internal sealed class EventFollower(
    EventHub hub,
    RedisConnection redis,
    IOptions<EventOptions> options,
    TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        hub.EnsureStarted();
        var broadcast = options.Value.Broadcast;
        var interval = TimeSpan.FromMilliseconds(
            redis.IsConfigured ? broadcast.RedisPollIntervalMilliseconds : broadcast.PollIntervalMilliseconds);
        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            hub.Poke();
        }
    }
}

/// <summary>
/// One timer for every live subscriber's heartbeat: the marker travels through the subscriber's buffer, so a stream
/// only ever waits on its buffer (no timer per connection or per wait, which a thousand subscribers would feel).
/// </summary>
internal sealed class EventHeartbeat(EventHub hub, IOptions<EventOptions> options, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.Stream.HeartbeatSeconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            hub.Pulse();
        }
    }
}
