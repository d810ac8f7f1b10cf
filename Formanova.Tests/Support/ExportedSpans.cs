using System.Collections;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Support;

/// <summary>
/// The spans a host exported, collected by OpenTelemetry's in-memory exporter (which appends from the host's threads
/// as each span ends), safe to read and clear meanwhile; and the questions the trace tests ask of them.
/// </summary>
internal sealed class ExportedSpans : ICollection<Activity>
{
    /// <summary>A source the tests start their own spans on (a caller outside any request).</summary>
    public static readonly ActivitySource TestSource = new("Formanova.Tests");

    private readonly List<Activity> _spans = [];
    private readonly Lock _gate = new();

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _spans.Count;
            }
        }
    }

    public bool IsReadOnly => false;

    /// <summary>
    /// Registers the exporter on a host's tracer provider (a FormanovaFactory's service callback). An exporter means
    /// traces are recorded, as an OTLP endpoint would mean, unless the test says otherwise.
    /// </summary>
    public void Install(IServiceCollection services)
    {
        services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddSource(TestSource.Name).AddInMemoryExporter(this));
        services.PostConfigure<Formanova.Host.Telemetry.TraceOptions>(options => options.Record ??= true);
    }

    /// <summary>The spans so far: a copy, safe to enumerate while the host appends.</summary>
    public List<Activity> Snapshot()
    {
        lock (_gate)
        {
            return [.. _spans];
        }
    }

    public void Add(Activity item)
    {
        lock (_gate)
        {
            _spans.Add(item);
        }
    }

    public void Clear()
    {
        lock (_gate)
        {
            _spans.Clear();
        }
    }

    public bool Contains(Activity item)
    {
        lock (_gate)
        {
            return _spans.Contains(item);
        }
    }

    public void CopyTo(Activity[] array, int arrayIndex)
    {
        lock (_gate)
        {
            _spans.CopyTo(array, arrayIndex);
        }
    }

    public bool Remove(Activity item)
    {
        lock (_gate)
        {
            return _spans.Remove(item);
        }
    }

    public IEnumerator<Activity> GetEnumerator() => Snapshot().GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// Runs one synchronous prediction (<c>POST /api/v1/predictions</c>) on a host with <paramref name="settings"/>,
    /// and returns every span exported once the request's span and whatever <paramref name="until"/> waits for are in.
    /// </summary>
    public static async Task<Activity[]> OfPredictionAsync(
        IEnumerable<KeyValuePair<string, string?>> settings,
        Func<Activity[], bool>? until = null)
    {
        var spans = new ExportedSpans();
        using var factory = new FormanovaFactory(settings, spans.Install);
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync("/api/v1/predictions", Body());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        // The server span ends once the response is written, a moment after the client has it; with the early answer
        // (Workflows:SyncAnswer) the run persists after it, so its last step's span follows later still.
        await UntilAsync(
            () => Task.FromResult(spans.Snapshot().ToArray() is var exported
                && exported.Any(IsPredictionRequest)
                && exported.Any(s => s.DisplayName == "RunActivity:persist_and_emit")
                && (until?.Invoke(exported) ?? true)),
            TimeSpan.FromSeconds(10),
            "the request span");
        return [.. spans.Snapshot()];
    }

    public static bool IsPredictionRequest(Activity span) =>
        span.Kind == ActivityKind.Server && (span.GetTagItem("url.path") as string) == "/api/v1/predictions";

    public static bool IsRoot(Activity span) => span.ParentSpanId == default;

    /// <summary>An HTTP request to the API (the server span ASP.NET Core opens).</summary>
    public static bool IsRequest(Activity span, string method, string path) =>
        span.Kind == ActivityKind.Server
            && span.Source.Name == "Microsoft.AspNetCore"
            && (span.GetTagItem("http.request.method") as string) == method
            && (span.GetTagItem("url.path") as string) == path;

    /// <summary>The SQL of an Npgsql span; null for any other span.</summary>
    public static string? Sql(Activity span) =>
        span.Source.Name == "Npgsql" ? (span.GetTagItem("db.query.text") ?? span.GetTagItem("db.statement")) as string : null;

    public static bool IsEventInsert(Activity span) => Sql(span)?.Contains("INSERT INTO event_log", StringComparison.Ordinal) == true;

    /// <summary>A readable line for assertion messages.</summary>
    public static string Describe(Activity span) =>
        $"{span.Source.Name}: {span.DisplayName}{(Sql(span) is { } sql ? " " + sql[..Math.Min(60, sql.Length)] : "")}";
}
