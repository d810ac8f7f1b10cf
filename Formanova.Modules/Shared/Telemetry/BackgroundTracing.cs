using System.Diagnostics;
using OpenTelemetry;

namespace Formanova.Modules.Shared.Telemetry;

/// <summary>
/// How background loops appear in traces (docs/observability.md, "Background loops"): a poll that looks for work
/// records nothing, work a poll found runs under a root span of its own, and a long-lived loop never inherits the
/// span (or the log scopes) of whoever happened to start it. Idle, a host polls its database several times a second;
/// exported, those polls would outnumber every request's trace.
/// </summary>
public static class BackgroundTracing
{
    /// <summary>
    /// Until disposed, nothing on this async flow becomes a span: the Npgsql, Redis and HttpClient instrumentation
    /// and the Formanova source all stand down (OpenTelemetry's <see cref="SuppressInstrumentationScope"/>). Wrap
    /// the query that looks for work, not the work it finds: <see cref="WorkAsync{T}"/> turns tracing back on.
    /// </summary>
    public static IDisposable Quiet() => SuppressInstrumentationScope.Begin();

    /// <summary>
    /// Runs work that a poll found under a new root span named <paramref name="name"/>, traced even inside
    /// <see cref="Quiet"/>; the span is marked as an error when the work throws.
    /// </summary>
    public static async Task<T> WorkAsync<T>(string name, Func<Activity?, Task<T>> work)
    {
        using var traced = SuppressInstrumentationScope.Begin(false);
        // A root, whatever is current: a loop's work belongs to no request. The change ends with this method.
        Activity.Current = null;
        using var span = FormanovaTelemetry.ActivitySource.StartActivity(name, ActivityKind.Internal);
        try
        {
            return await work(span);
        }
        catch (Exception exception)
        {
            span?.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
            throw;
        }
    }

    /// <inheritdoc cref="WorkAsync{T}"/>
    public static Task WorkAsync(string name, Func<Activity?, Task> work) =>
        WorkAsync<object?>(name, async span =>
        {
            await work(span);
            return null;
        });

    /// <summary>
    /// Runs work that a request may have asked for, or a loop found: under the current span when there is one, else as
    /// <see cref="WorkAsync(string, Func{Activity?, Task})"/>, a root named <paramref name="name"/>.
    /// </summary>
    public static Task WorkOrChildAsync(string name, Func<Task> work) =>
        Activity.Current is null ? WorkAsync(name, _ => work()) : work();

    /// <summary>
    /// Starts a long-lived loop with an empty execution context. A loop started lazily, on the first call that needs
    /// it, would otherwise keep that caller's span as its current span for ever (and its log scopes), and put every
    /// later unrelated operation's work under it.
    /// </summary>
    public static Task RunDetached(Func<Task> loop)
    {
        using var detached = ExecutionContext.SuppressFlow();
        return Task.Run(loop);
    }
}
