using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Dashboard.Live;

/// <summary>A rendered fragment of a live region; <paramref name="Final"/> when nothing will change any more (a closed run).</summary>
internal sealed record LiveFrame(string Html, bool Final = false);

/// <summary>
/// Live regions shared by everyone who watches them: one producer per key reads and renders the region every
/// <see cref="DashboardOptions.RefreshSeconds"/> while at least one page is open on it, and sends a frame only when the
/// rendering changed. Twenty open overviews cost one read and one render per interval, not twenty; an idle host whose
/// pages do not change sends nothing but the streams' heartbeats.
/// </summary>
internal sealed class LiveFeeds(IOptions<DashboardOptions> options, TimeProvider time, ILogger<LiveFeeds> logger) : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Feed> _feeds = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger<LiveFeeds> _logger = logger;

    /// <summary>
    /// Joins the feed of <paramref name="key"/>, starting it with <paramref name="produce"/> if nobody watches it yet. The
    /// subscription receives the latest frame at once when there is one, then every change; dispose it to leave.
    /// </summary>
    public LiveSubscription Subscribe(string key, Func<CancellationToken, Task<LiveFrame>> produce)
    {
        lock (_lock)
        {
            if (!_feeds.TryGetValue(key, out var feed))
            {
                feed = new Feed(this, key, produce);
                _feeds[key] = feed;
                feed.Start(TimeSpan.FromSeconds(options.Value.RefreshSeconds), time, _stopping.Token);
            }

            return feed.Join();
        }
    }

    /// <summary>How many feeds are running (for tests).</summary>
    internal int Running
    {
        get
        {
            lock (_lock)
            {
                return _feeds.Count;
            }
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private void Leave(Feed feed, LiveSubscription subscription)
    {
        lock (_lock)
        {
            if (feed.Leave(subscription) == 0 && _feeds.TryGetValue(feed.Key, out var current) && current == feed)
            {
                _feeds.Remove(feed.Key);
                feed.Stop();
            }
        }
    }

    private void Ended(Feed feed)
    {
        lock (_lock)
        {
            if (_feeds.TryGetValue(feed.Key, out var current) && current == feed)
            {
                _feeds.Remove(feed.Key);
            }
        }
    }

    /// <summary>One key's producer and its subscribers. Its subscriber list is guarded by the owner's lock.</summary>
    private sealed class Feed(LiveFeeds owner, string key, Func<CancellationToken, Task<LiveFrame>> produce)
    {
        private readonly List<LiveSubscription> _subscribers = [];
        private CancellationTokenSource? _run;
        private LiveFrame? _latest;

        public string Key => key;

        public void Start(TimeSpan interval, TimeProvider time, CancellationToken stopping)
        {
            _run = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            _ = Task.Run(() => RunAsync(interval, time, _run.Token), CancellationToken.None);
        }

        public void Stop()
        {
            _run?.Cancel();
            _run?.Dispose();
            _run = null;
        }

        public LiveSubscription Join()
        {
            var subscription = new LiveSubscription(s => owner.Leave(this, s));
            _subscribers.Add(subscription);
            if (_latest is not null)
            {
                subscription.Offer(_latest);
            }

            return subscription;
        }

        public int Leave(LiveSubscription subscription)
        {
            _subscribers.Remove(subscription);
            return _subscribers.Count;
        }

        private async Task RunAsync(TimeSpan interval, TimeProvider time, CancellationToken cancellationToken)
        {
            using var timer = new PeriodicTimer(interval, time);
            string? last = null;
            try
            {
                do
                {
                    LiveFrame frame;
                    try
                    {
                        frame = await produce(cancellationToken);
                    }
                    catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        // A producer renders its own error states; this is a bug, and the next tick tries again.
                        owner._logger.LogWarning(ex, "The live region {Key} could not be produced", key);
                        continue;
                    }

                    if (frame.Html != last || frame.Final)
                    {
                        last = frame.Html;
                        Publish(frame);
                    }

                    if (frame.Final)
                    {
                        owner.Ended(this);
                        return;
                    }
                }
                while (await timer.WaitForNextTickAsync(cancellationToken));
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The last subscriber left, or the host is stopping.
            }
        }

        private void Publish(LiveFrame frame)
        {
            lock (owner._lock)
            {
                _latest = frame;
                foreach (var subscriber in _subscribers)
                {
                    subscriber.Offer(frame);
                }
            }
        }
    }
}

/// <summary>
/// One page's view of a live feed. It holds only the newest frame not yet sent: a slow page skips frames it would have
/// replaced anyway, and never makes the producer wait.
/// </summary>
internal sealed class LiveSubscription(Action<LiveSubscription> leave) : IDisposable
{
    private readonly Channel<LiveFrame> _frames = Channel.CreateBounded<LiveFrame>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    private int _left;

    public ChannelReader<LiveFrame> Frames => _frames.Reader;

    internal void Offer(LiveFrame frame) => _frames.Writer.TryWrite(frame);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _left, 1) == 0)
        {
            leave(this);
        }
    }
}
