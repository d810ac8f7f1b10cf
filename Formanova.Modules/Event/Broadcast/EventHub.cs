using System.Threading.Channels;
using Formanova.Modules.Event.Log;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Event.Broadcast;

/// <summary>
/// The in-process broadcaster and sequencer. Events arrive from the local appender, from Redis (other instances)
/// and from the log poller, in any order and possibly twice; the hub hands them to subscribers strictly in
/// sequence order, each once. When a batch starts beyond the next expected sequence, the hole is read from the
/// log first: appends commit in sequence order, so anything below a committed event is already visible.
/// </summary>
internal sealed class EventHub : IAsyncDisposable
{
    private const int CatchUpPage = 1_000;

    private readonly Channel<IReadOnlyList<LoggedEvent>> _ingest = Channel.CreateUnbounded<IReadOnlyList<LoggedEvent>>(
        new UnboundedChannelOptions { SingleReader = true });
    private readonly EventStore _store;
    private readonly ILogger<EventHub> _logger;
    private readonly int _bufferSize;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private EventSubscription[] _subscribers = [];
    private readonly AsyncSignal _dispatched = new();
    private long _last;

    public EventHub(EventStore store, IOptions<EventOptions> options, ILogger<EventHub> logger)
    {
        _store = store;
        _logger = logger;
        _bufferSize = options.Value.Broadcast.SubscriberBufferSize;
    }

    /// <summary>
    /// Starts the dispatch loop. Not in the constructor: hosted services are all constructed before the first one
    /// (the migrator) starts, and the loop's first act is to read the log.
    /// </summary>
    public void EnsureStarted()
    {
        if (Volatile.Read(ref _loop) is null)
        {
            lock (_gate)
            {
                // Detached: the first caller may be a publish or a stream request, whose span the loop must not keep.
                _loop ??= BackgroundTracing.RunDetached(RunAsync);
            }
        }
    }

    /// <summary>The highest sequence handed to subscribers.</summary>
    public long LastSequence => Interlocked.Read(ref _last);

    public int SubscriberCount => Volatile.Read(ref _subscribers).Length;

    /// <summary>Completes once the hub knows where the log ends.</summary>
    public Task Ready
    {
        get
        {
            EnsureStarted();
            return _ready.Task;
        }
    }

    /// <summary>Completes at the next dispatch; background loops wait on it instead of sleeping.</summary>
    public Task NextDispatch => _dispatched.Next;

    public void Ingest(IReadOnlyList<LoggedEvent> events)
    {
        EnsureStarted();
        _ingest.Writer.TryWrite(events);
    }

    /// <summary>Asks the hub to read the log after its last sequence (the poller's way in).</summary>
    public void Poke() => Ingest([]);

    public EventSubscription Subscribe(EventFilter filter, int? bufferSize = null)
    {
        var subscription = new EventSubscription(this, filter, bufferSize ?? _bufferSize);
        lock (_gate)
        {
            _subscribers = [.. _subscribers, subscription];
        }

        return subscription;
    }

    /// <summary>Puts a heartbeat marker in every subscriber's buffer (skipped where the buffer is full: data is flowing there).</summary>
    public void Pulse()
    {
        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            subscriber.TryPulse();
        }
    }

    internal void Remove(EventSubscription subscription)
    {
        lock (_gate)
        {
            _subscribers = _subscribers.Where(s => !ReferenceEquals(s, subscription)).ToArray();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _ingest.Writer.TryComplete();
        await _stopping.CancelAsync();
        try
        {
            await (_loop ?? Task.CompletedTask);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }

        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            subscriber.Close(new SubscriberClosedException("The server is shutting down."));
        }

        _stopping.Dispose();
    }

    private async Task RunAsync()
    {
        // Following the log for live subscribers is polling: none of the hub's reads is traced (docs/observability.md).
        using var quiet = BackgroundTracing.Quiet();
        var token = _stopping.Token;
        await RetryAsync(
            async () => Interlocked.Exchange(ref _last, await _store.MaxIdAsync(token)),
            "read the end of the event log",
            token);
        _ready.TrySetResult();

        await foreach (var batch in _ingest.Reader.ReadAllAsync(token))
        {
            if (batch.Count == 0)
            {
                await RetryAsync(() => CatchUpAsync(null, token), "follow the event log", token);
            }
            else
            {
                var ordered = batch.OrderBy(e => e.Sequence).ToList();
                if (ordered[0].Sequence > LastSequence + 1)
                {
                    await RetryAsync(() => CatchUpAsync(ordered[0].Sequence - 1, token), "fill a gap from the event log", token);
                }

                foreach (var e in ordered)
                {
                    Dispatch(e);
                }
            }

            _dispatched.Set();
        }
    }

    private async Task CatchUpAsync(long? upTo, CancellationToken token)
    {
        while (true)
        {
            var rows = await _store.ReadAfterAsync(LastSequence, EventFilter.All, CatchUpPage, upTo, token);
            foreach (var row in rows)
            {
                Dispatch(new LoggedEvent(row));
            }

            if (rows.Count < CatchUpPage)
            {
                return;
            }
        }
    }

    private void Dispatch(LoggedEvent e)
    {
        if (e.Sequence <= LastSequence)
        {
            return;
        }

        Interlocked.Exchange(ref _last, e.Sequence);
        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            if (!subscriber.TryDeliver(e))
            {
                Remove(subscriber);
                subscriber.Close(new SubscriberClosedException(
                    $"The subscriber fell {subscriber.BufferSize} events behind (Event:Broadcast:SubscriberBufferSize) and was closed."));
            }
        }
    }

    private async Task RetryAsync(Func<Task> action, string what, CancellationToken token)
    {
        for (var delay = TimeSpan.FromMilliseconds(100); ; delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5_000)))
        {
            try
            {
                await action();
                return;
            }
            catch (Exception exception) when (!token.IsCancellationRequested)
            {
                _logger.LogWarning(exception, "The event hub could not {What}; retrying in {Delay}", what, delay);
                await Task.Delay(delay, token);
            }
        }
    }
}

/// <summary>Why a live subscription ended; its message is shown to the client.</summary>
internal sealed class SubscriberClosedException(string message) : Exception(message);

/// <summary>One live subscriber's bounded buffer; dispose to unsubscribe.</summary>
internal sealed class EventSubscription : IDisposable
{
    private readonly EventHub _hub;
    private readonly Channel<LoggedEvent> _buffer;

    public EventSubscription(EventHub hub, EventFilter filter, int bufferSize)
    {
        _hub = hub;
        Filter = filter;
        BufferSize = bufferSize;
        _buffer = Channel.CreateBounded<LoggedEvent>(new BoundedChannelOptions(bufferSize)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    public EventFilter Filter { get; }

    public int BufferSize { get; }

    /// <summary>Completes with a <see cref="SubscriberClosedException"/> when the subscriber is closed for overflow.</summary>
    public ChannelReader<LoggedEvent> Reader => _buffer.Reader;

    internal bool TryDeliver(LoggedEvent e)
    {
        if (!Filter.Matches(e.Row))
        {
            return true;
        }

        return _buffer.Writer.TryWrite(e);
    }

    internal void TryPulse() => _buffer.Writer.TryWrite(LoggedEvent.Heartbeat);

    internal void Close(Exception reason) => _buffer.Writer.TryComplete(reason);

    public void Dispose()
    {
        _hub.Remove(this);
        _buffer.Writer.TryComplete();
    }
}
