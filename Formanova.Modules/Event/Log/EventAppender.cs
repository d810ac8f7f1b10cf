using System.Data.Common;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Formanova.Modules.Event.Broadcast;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Event.Log;

/// <summary>
/// Group commit: publishers queue their event and await it; one writer drains whatever is queued (up to
/// Event:MaxBatchSize) into one transaction. Under concurrency the batches grow by themselves, which is what
/// turns the ~2k/s of single-row commits into many thousands per second; alone, a publish waits for one commit.
/// Each publish carries its caller's span to the writer, and the batch's transaction runs under an <c>AppendEvents</c>
/// span in that caller's trace (linked to the other callers' spans when several share one commit).
/// </summary>
internal sealed class EventAppender : IAsyncDisposable
{
    // OpenTelemetry's default limit of links per span; a full batch of Event:MaxBatchSize publishers can exceed it.
    private const int MaxLinks = 128;

    private readonly Channel<Request> _queue = Channel.CreateUnbounded<Request>();
    private readonly EventStore _store;
    private readonly EventHub _hub;
    private readonly IEnumerable<IEventRelay> _relays;
    private readonly ILogger<EventAppender> _logger;
    private readonly int _maxBatch;
    private readonly Task[] _writers;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _commitDuration;

    public EventAppender(
        EventStore store,
        EventHub hub,
        IEnumerable<IEventRelay> relays,
        IOptions<EventOptions> options,
        FormanovaMetrics metrics,
        ILogger<EventAppender> logger)
    {
        _batchSize = metrics.Meter
            .CreateHistogram<int>("formanova.event.append.batch_size", "{event}", "Events written per group-commit transaction.");
        _commitDuration = metrics.Meter
            .CreateHistogram<double>("formanova.event.append.duration", "ms", "Duration of one group-commit transaction.");
        _store = store;
        _hub = hub;
        _relays = relays;
        _logger = logger;
        _maxBatch = options.Value.MaxBatchSize;
        // More than one writer overlaps one batch's client-side work with the next batch's time in the database;
        // the database lock still orders them, and the hub re-sequences what arrives out of order.
        // Detached: the first publish constructs the appender, and the writers must not keep its span as theirs.
        _writers = Enumerable.Range(0, options.Value.AppendWriters).Select(_ => BackgroundTracing.RunDetached(WriteLoopAsync)).ToArray();
    }

    public async Task<(EventRow Row, bool Created)> AppendAsync(PendingEvent pending, CancellationToken cancellationToken)
    {
        var request = new Request(
            pending,
            new TaskCompletionSource<(EventRow, bool)>(TaskCreationOptions.RunContinuationsAsynchronously),
            Activity.Current?.Context ?? default);
        if (!_queue.Writer.TryWrite(request))
        {
            throw new ModuleException(ErrorKind.Unavailable, "The event log is shutting down.");
        }

        // The caller may stop waiting, but the event is still written: cancelling a publish is never an "undo".
        return await request.Completion.Task.WaitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_writers);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Request>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var request))
            {
                batch.Add(request);
            }

            // Every writer wakes on the same item; the ones that lose the race find nothing left to write.
            if (batch.Count == 0)
            {
                continue;
            }

            using var span = StartSpan(batch);
            try
            {
                var started = Stopwatch.GetTimestamp();
                var results = await _store.AppendAsync(batch.Select(r => r.Pending).ToList(), CancellationToken.None);
                _commitDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                _batchSize.Record(batch.Count);
                var created = new List<LoggedEvent>();
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Completion.TrySetResult(results[i]);
                    if (results[i].Created)
                    {
                        created.Add(new LoggedEvent(results[i].Row));
                    }
                }

                if (created.Count > 0)
                {
                    _hub.Ingest(created);
                    foreach (var relay in _relays)
                    {
                        relay.Relay(created);
                    }
                }
            }
            catch (Exception exception) when (exception is DbException or TimeoutException or InvalidOperationException)
            {
                span?.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
                _logger.LogError(exception, "Appending {Count} events failed", batch.Count);
                var failure = new ModuleException(
                    ErrorKind.Unavailable,
                    "The event log is unavailable; retry the publish with the same idempotency key.",
                    inner: exception);
                foreach (var request in batch)
                {
                    request.Completion.TrySetException(failure);
                }
            }
            catch (Exception exception)
            {
                span?.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
                foreach (var request in batch)
                {
                    request.Completion.TrySetException(exception);
                }
            }
        }
    }

    /// <summary>
    /// The span of one batch's transaction, a child of the first publisher whose trace is sampled (or of the first
    /// publisher at all, so that an unsampled caller's batch stays unsampled), linked to the other sampled publishers.
    /// Without any publisher's span it is a root, as the publish had no operation around it.
    /// </summary>
    private static Activity? StartSpan(List<Request> batch)
    {
        if (!FormanovaTelemetry.ActivitySource.HasListeners())
        {
            return null;
        }

        var callers = batch.Select(r => r.Caller).Where(c => c != default).ToList();
        var parent = callers.FirstOrDefault(c => c.TraceFlags.HasFlag(ActivityTraceFlags.Recorded), callers.FirstOrDefault());
        var links = callers.Where(c => c != parent && c.TraceFlags.HasFlag(ActivityTraceFlags.Recorded))
            .Distinct()
            .Take(MaxLinks)
            .Select(c => new ActivityLink(c))
            .ToList();
        var span = FormanovaTelemetry.ActivitySource.StartActivity("AppendEvents", ActivityKind.Internal, parent, links: links);
        span?.SetTag("formanova.event.count", batch.Count);
        return span;
    }

    private sealed record Request(PendingEvent Pending, TaskCompletionSource<(EventRow, bool)> Completion, ActivityContext Caller);
}
