using System.Buffers;
using System.Text;
using Formanova.Host.Dashboard.Access;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Dashboard.Live;

/// <summary>
/// A live region's Server-Sent Events stream, in the shape of the event stream of <c>/api/v1/events/stream</c>
/// (Formanova.Modules/Event/Api/EventStream.cs): unbuffered, a retry hint and a comment first, heartbeats while idle. Each
/// frame is an <c>event: fragment</c> whose data lines are the region's HTML; <c>event: end</c> closes it, with
/// <c>data: final</c> when the region will not change again, or <c>data: signed-out</c> when the session's key no longer
/// stands (checked as often as a page's session is).
/// </summary>
internal static class LiveStream
{
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(15);

    public static async Task RunAsync(HttpContext http, LiveSubscription subscription)
    {
        using var _ = subscription;
        var aborted = http.RequestAborted;
        var session = http.RequestServices.GetRequiredService<DashboardSession>();
        var options = http.RequestServices.GetRequiredService<IOptions<DashboardOptions>>().Value;
        var recheck = TimeSpan.FromSeconds(Math.Max(1, options.KeyRecheckSeconds));
        var time = http.RequestServices.GetRequiredService<TimeProvider>();

        var response = http.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache, no-store";
        response.Headers["X-Accel-Buffering"] = "no";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var body = response.BodyWriter;
        try
        {
            body.Write("retry: 3000\n: connected\n\n"u8);
            await body.FlushAsync(aborted);
            var checkedAt = time.GetUtcNow();
            var reader = subscription.Frames;
            while (true)
            {
                if (await NextAsync(reader, aborted) is { } frame)
                {
                    body.Write(Frame(frame.Html));
                    if (frame.Final)
                    {
                        body.Write("event: end\ndata: final\n\n"u8);
                        await body.FlushAsync(aborted);
                        return;
                    }
                }
                else
                {
                    body.Write(": heartbeat\n\n"u8);
                }

                if (time.GetUtcNow() - checkedAt >= recheck)
                {
                    if (!await session.StandsAsync(http.User, aborted))
                    {
                        body.Write("event: end\ndata: signed-out\n\n"u8);
                        await body.FlushAsync(aborted);
                        return;
                    }

                    checkedAt = time.GetUtcNow();
                }

                await body.FlushAsync(aborted);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The page went away.
        }
    }

    /// <summary>The next frame, or null after <see cref="Heartbeat"/> without one.</summary>
    private static async Task<LiveFrame?> NextAsync(System.Threading.Channels.ChannelReader<LiveFrame> reader, CancellationToken aborted)
    {
        if (reader.TryRead(out var ready))
        {
            return ready;
        }

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        wait.CancelAfter(Heartbeat);
        try
        {
            await reader.WaitToReadAsync(wait.Token);
            return reader.TryRead(out var frame) ? frame : null;
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>
    /// An SSE event whose data is <paramref name="html"/>, one <c>data:</c> line per line (the browser joins them with newlines).
    /// </summary>
    private static byte[] Frame(string html)
    {
        var text = new StringBuilder("event: fragment\n");
        foreach (var line in html.Split('\n'))
        {
            text.Append("data: ").Append(line.TrimEnd('\r')).Append('\n');
        }

        return Encoding.UTF8.GetBytes(text.Append('\n').ToString());
    }
}
