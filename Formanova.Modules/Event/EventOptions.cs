using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Event;

/// <summary>The <c>Event</c> configuration section.</summary>
internal sealed class EventOptions
{
    public const string SectionName = "Event";

    /// <summary>Events (and finished webhook deliveries) older than this are removed by the background cleanup.</summary>
    [Range(1, 36_500)]
    public int RetentionDays { get; set; } = 30;

    [Range(1, 10_080)]
    public int RetentionSweepMinutes { get; set; } = 60;

    /// <summary>Upper bound of the serialised <c>data</c> of one event.</summary>
    [Range(1, 1_048_576)]
    public int MaxDataBytes { get; set; } = 65_536;

    /// <summary>Concurrent publishes are written in one transaction of at most this many events.</summary>
    [Range(1, 2_000)]
    public int MaxBatchSize { get; set; } = 500;

    /// <summary>Concurrent group-commit writers per instance.</summary>
    [Range(1, 16)]
    public int AppendWriters { get; set; } = 2;

    [Range(1, 10_000)]
    public int DefaultPageSize { get; set; } = 100;

    [Range(1, 10_000)]
    public int MaxPageSize { get; set; } = 1_000;

    [ValidateObjectMembers]
    public BroadcastOptions Broadcast { get; set; } = new();

    [ValidateObjectMembers]
    public StreamOptions Stream { get; set; } = new();

    [ValidateObjectMembers]
    public WebhookOptions Webhooks { get; set; } = new();

    internal sealed class BroadcastOptions
    {
        /// <summary>Events buffered per live subscriber; a subscriber that falls this far behind is closed.</summary>
        [Range(1, 1_000_000)]
        public int SubscriberBufferSize { get; set; } = 1_000;

        /// <summary>
        /// How often the log is polled for other instances' events when Redis is not configured (the bound on their delay).
        /// </summary>
        [Range(10, 60_000)]
        public int PollIntervalMilliseconds { get; set; } = 500;

        /// <summary>The safety-net poll when Redis pub/sub carries other instances' events.</summary>
        [Range(100, 600_000)]
        public int RedisPollIntervalMilliseconds { get; set; } = 5_000;

        [Required]
        public string RedisChannel { get; set; } = "formanova:events";
    }

    internal sealed class StreamOptions
    {
        [Range(1, 3_600)]
        public int HeartbeatSeconds { get; set; } = 15;

        /// <summary>The reconnection delay suggested to EventSource clients (SSE <c>retry:</c> field).</summary>
        [Range(0, 600_000)]
        public int RetryMilliseconds { get; set; } = 2_000;
    }

    internal sealed class WebhookOptions
    {
        [Range(1, 100)]
        public int MaxAttempts { get; set; } = 8;

        /// <summary>
        /// The delay before the second attempt; each further attempt doubles it (with ±20% jitter) up to MaxBackoffSeconds.
        /// </summary>
        [Range(1, 3_600_000)]
        public int BackoffBaseMilliseconds { get; set; } = 1_000;

        [Range(1, 86_400)]
        public int MaxBackoffSeconds { get; set; } = 3_600;

        [Range(1, 300)]
        public int TimeoutSeconds { get; set; } = 10;

        public bool AllowLoopback { get; set; }

        public bool AllowPrivateNetworks { get; set; }

        public bool AllowLinkLocal { get; set; }

        [Range(1, 1_000_000)]
        public int MaxReplayEvents { get; set; } = 10_000;

        /// <summary>How often the log is checked for events to fan out into deliveries, besides the wake-up on each publish.</summary>
        [Range(10, 600_000)]
        public int FanOutIntervalMilliseconds { get; set; } = 1_000;

        [ValidateObjectMembers]
        public DispatcherOptions Dispatcher { get; set; } = new();
    }

    internal sealed class DispatcherOptions
    {
        /// <summary>Off once durable delivery workflows call AttemptDeliveryAsync instead.</summary>
        public bool Enabled { get; set; } = true;

        [Range(1, 256)]
        public int Concurrency { get; set; } = 8;

        [Range(10, 600_000)]
        public int PollIntervalMilliseconds { get; set; } = 1_000;
    }
}

[OptionsValidator]
internal sealed partial class EventOptionsValidator : IValidateOptions<EventOptions>;
