using System.Diagnostics;
using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using Formanova.Host.Telemetry;

namespace Formanova.Host.Api;

/// <summary>
/// One compact line per request: method, route template, final status, duration, trace id and API key id. It is
/// the outermost middleware, so the status is the one the client got, after the exception handler and the
/// status-code pages (the framework's HTTP logging sat inside the exception handler and logged a thrown 404 or 400
/// as 200). The route template, not the path, keeps hostile or personal path segments out of the log; the key id,
/// never the secret, names the caller. Probes and scrapes log at Debug.
/// </summary>
internal sealed class RequestLogMiddleware(RequestDelegate next, ILogger<RequestLogMiddleware> logger)
{
    /// <summary>
    /// An execution context with no async-locals. The line is written inside it, so it carries no logging scopes:
    /// the hosting scope would add the raw path and request id, and the trace scope repeats the trace id the line
    /// already has: together they about double a line's bytes in the JSON console format.
    /// </summary>
    private static readonly ExecutionContext Bare = CaptureBareContext();

    private const int ClientClosedRequest = 499;

    public async Task InvokeAsync(HttpContext context)
    {
        var level = TelemetrySetup.IsProbe(context.Request.Path) ? LogLevel.Debug : LogLevel.Information;
        if (!logger.IsEnabled(level))
        {
            await next(context);
            return;
        }

        // Routing has already run (WebApplication routes before the first middleware); the exception handler clears
        // the endpoint when it handles an error, so it is read now.
        var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "(unmatched)";
        var started = Stopwatch.GetTimestamp();
        var failed = false;
        try
        {
            await next(context);
        }
        catch
        {
            // Nothing handled it: the server answers 500, if it can still answer at all.
            failed = true;
            throw;
        }
        finally
        {
            var line = new Line(
                logger,
                level,
                context.Request.Method,
                route,
                Status(context, failed),
                Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 2),
                Activity.Current?.TraceId.ToHexString() ?? context.TraceIdentifier,
                context.User.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? "-");
            ExecutionContext.Run(Bare, static state => ((Line)state!).Write(), line);
        }
    }

    /// <summary>What the client got: 499 (as nginx logs it) when it went away before an answer started.</summary>
    private static int Status(HttpContext context, bool failed)
    {
        if (context.Response.HasStarted)
        {
            return context.Response.StatusCode;
        }

        if (context.RequestAborted.IsCancellationRequested)
        {
            return ClientClosedRequest;
        }

        return failed ? StatusCodes.Status500InternalServerError : context.Response.StatusCode;
    }

    private static ExecutionContext CaptureBareContext()
    {
        // A thread started while flow is suppressed has no context; Capture there returns the empty default.
        using var suppressed = ExecutionContext.SuppressFlow();
        ExecutionContext? bare = null;
        var thread = new Thread(() => bare = ExecutionContext.Capture());
        thread.Start();
        thread.Join();
        return bare!;
    }

    /// <summary>
    /// The line's state: its fields for structured sinks (the JSON console's <c>State</c>), and the rendered message.
    /// Unlike a message template it carries no <c>{OriginalFormat}</c>, which would repeat the same template in
    /// every line. The console writes it to UTF-8 itself (<see cref="IUtf8LogState"/>); other sinks read the pairs.
    /// </summary>
    internal sealed record Line(
        ILogger Logger,
        LogLevel Level,
        string Method,
        string Route,
        int Status,
        double DurationMs,
        string TraceId,
        string KeyId)
        : IReadOnlyList<KeyValuePair<string, object?>>, IUtf8LogState
    {
        private static readonly EventId Event = new(1, "Request");
        private const int MessageChars = 512;

        public int Count => 6;

        public KeyValuePair<string, object?> this[int index] => index switch
        {
            0 => new(nameof(Method), Method),
            1 => new(nameof(Route), Route),
            2 => new(nameof(Status), Status),
            3 => new(nameof(DurationMs), DurationMs),
            4 => new(nameof(TraceId), TraceId),
            5 => new(nameof(KeyId), KeyId),
            _ => throw new ArgumentOutOfRangeException(nameof(index)),
        };

        public void Write() => Logger.Log(Level, Event, this, null, static (line, _) => line.ToString());

        public override string ToString()
        {
            Span<char> text = stackalloc char[MessageChars];
            return TryFormatMessage(text, out var written) ? new string(text[..written]) : Rendered();
        }

        public void WriteFields(Utf8JsonWriter writer)
        {
            writer.WriteString(nameof(Method), Method);
            writer.WriteString(nameof(Route), Route);
            writer.WriteNumber(nameof(Status), Status);
            writer.WriteNumber(nameof(DurationMs), DurationMs);
            writer.WriteString(nameof(TraceId), TraceId);
            writer.WriteString(nameof(KeyId), KeyId);
        }

        public bool TryFormatMessage(Span<char> destination, out int written) => destination.TryWrite(
            CultureInfo.InvariantCulture, $"{Method} {Route} {Status} {DurationMs}ms trace={TraceId} key={KeyId}", out written);

        // A route template longer than the stack buffer: rare, so a growing heap buffer is fine.
        private string Rendered()
        {
            for (var size = MessageChars * 2; ; size *= 2)
            {
                var text = new char[size];
                if (TryFormatMessage(text, out var written))
                {
                    return new string(text, 0, written);
                }
            }
        }

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            for (var i = 0; i < Count; i++)
            {
                yield return this[i];
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
