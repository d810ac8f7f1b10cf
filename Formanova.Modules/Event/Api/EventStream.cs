using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Formanova.Modules.Event.Broadcast;
using Formanova.Modules.Event.Log;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Event.Api;

/// <summary>
/// <c>GET /api/v1/events/stream</c>: Server-Sent Events. The subscription is opened before the replay query
/// runs, so every event committed after the replay's snapshot is already in the live buffer; ids at or below
/// the last one written are skipped, so the hand-over from replay to live has neither gaps nor duplicates.
/// </summary>
internal static class EventStream
{
    private const int ReplayPage = 500;

    public static async Task RunAsync(
        HttpContext context,
        [FromHeader(Name = "Last-Event-ID")] string? lastEventId,
        string? after,
        [AsParameters] EventFilterQuery query,
        EventHub hub,
        EventStore store,
        IOptions<EventOptions> options)
    {
        var resumeAfter = lastEventId is not null
            ? EventEndpoints.ParseSequence(lastEventId, "Last-Event-ID")
            : EventEndpoints.ParseSequence(after, "after");
        var filter = EventEndpoints.ParseFilter(query);
        var stream = options.Value.Stream;
        var cancellationToken = context.RequestAborted;

        try
        {
            await hub.Ready.WaitAsync(cancellationToken);
            using var subscription = hub.Subscribe(filter);

            var response = context.Response;
            response.ContentType = "text/event-stream; charset=utf-8";
            response.Headers.CacheControl = "no-cache, no-store";
            response.Headers["X-Accel-Buffering"] = "no";
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            var body = response.BodyWriter;
            body.Write(
                Encoding.UTF8.GetBytes($"retry: {stream.RetryMilliseconds.ToString(CultureInfo.InvariantCulture)}\n: connected\n\n"));
            await body.FlushAsync(cancellationToken);

            var lastSent = resumeAfter ?? 0;
            if (resumeAfter is not null)
            {
                IReadOnlyList<EventRow> page;
                do
                {
                    page = await store.ReadAfterAsync(lastSent, filter, ReplayPage, null, cancellationToken);
                    foreach (var row in page)
                    {
                        body.Write(new LoggedEvent(row).SseFrame);
                        lastSent = row.Id;
                    }

                    await body.FlushAsync(cancellationToken);
                }
                while (page.Count == ReplayPage);
            }

            var reader = subscription.Reader;
            while (true)
            {
                while (reader.TryRead(out var e))
                {
                    if (ReferenceEquals(e, LoggedEvent.Heartbeat))
                    {
                        body.Write(e.SseFrame);
                    }
                    else if (e.Sequence > lastSent)
                    {
                        body.Write(e.SseFrame);
                        lastSent = e.Sequence;
                    }
                }

                await body.FlushAsync(cancellationToken);

                try
                {
                    if (!await reader.WaitToReadAsync(cancellationToken))
                    {
                        return;
                    }
                }
                catch (SubscriberClosedException closed)
                {
                    var reason = JsonSerializer.Serialize(new
                    {
                        reason = $"{closed.Message} Reconnect with Last-Event-ID: "
                            + $"{lastSent.ToString(CultureInfo.InvariantCulture)} to resume.",
                        lastEventId = lastSent.ToString(CultureInfo.InvariantCulture),
                    });
                    body.Write(Encoding.UTF8.GetBytes($"event: closed\ndata: {reason}\n\n"));
                    await body.FlushAsync(cancellationToken);
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client disconnected.
        }
    }
}
