using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using OpenTelemetry.Trace;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Support;

/// <summary>The spans a host exports, caught by an in-memory exporter added to its own tracer provider.</summary>
internal static class ExportedSpans
{
    /// <summary>
    /// Runs one synchronous prediction (<c>POST /api/v1/predictions</c>) on a host with <paramref name="settings"/>,
    /// and returns every span exported once the request's span and whatever <paramref name="until"/> waits for are in.
    /// </summary>
    public static async Task<Activity[]> OfPredictionAsync(
        IEnumerable<KeyValuePair<string, string?>> settings,
        Func<Activity[], bool>? until = null)
    {
        var spans = new List<Activity>();
        using var factory = new FormanovaFactory(
            settings,
            services => services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans)));
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync("/api/v1/predictions", Body());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        // The server span ends once the response is written, a moment after the client has it.
        await UntilAsync(
            () => Task.FromResult(Snapshot(spans) is var exported
                && exported.Any(IsPredictionRequest)
                && (until?.Invoke(exported) ?? true)),
            TimeSpan.FromSeconds(10),
            "the request span");
        return Snapshot(spans);
    }

    public static bool IsPredictionRequest(Activity span) =>
        span.Kind == ActivityKind.Server && (span.GetTagItem("url.path") as string) == "/api/v1/predictions";

    // The exporter appends from the worker's threads; a copy never enumerates a list being appended to.
    private static Activity[] Snapshot(List<Activity> spans) => spans.ToArray();
}
