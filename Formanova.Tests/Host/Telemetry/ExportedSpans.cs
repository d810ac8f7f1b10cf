using System.Collections;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace Formanova.Tests.Host.Telemetry;

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

    /// <summary>Registers the exporter on a host's tracer provider (a FormanovaFactory's service callback).</summary>
    public void Install(IServiceCollection services) =>
        services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddSource(TestSource.Name).AddInMemoryExporter(this));

    /// <summary>The spans so far, without the embedded Temporal server's own RPCs (not the API's traffic).</summary>
    public List<Activity> Snapshot()
    {
        lock (_gate)
        {
            return _spans.Where(s => !IsEmbeddedServerRpc(s)).ToList();
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

    /// <summary>
    /// The embedded server answers the worker's and the client's gRPC calls with its own ASP.NET Core server spans, in
    /// this process; they are the server's traffic, not the API's.
    /// </summary>
    private static bool IsEmbeddedServerRpc(Activity span) =>
        span.Source.Name == "Microsoft.AspNetCore"
            && (span.GetTagItem("url.path") as string)?.StartsWith("/temporal.api.", StringComparison.Ordinal) == true;
}
