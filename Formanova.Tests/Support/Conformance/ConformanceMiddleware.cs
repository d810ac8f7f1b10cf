using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace Formanova.Tests.Support.Conformance;

/// <summary>What every <see cref="FormanovaFactory"/> host saw: the responses checked and the violations found.</summary>
internal static class ConformanceLog
{
    private static readonly SemaphoreSlim DocumentLock = new(1, 1);
    private static ResponseConformance? _document;
    private static int _validated;

    public static ConcurrentQueue<string> Violations { get; } = new();

    public static int Validated => Volatile.Read(ref _validated);

    public static void Record(string? violation)
    {
        Interlocked.Increment(ref _validated);
        if (violation is not null)
        {
            Violations.Enqueue(violation);
        }
    }

    /// <summary>The served document, read once per process from the first host that needs it.</summary>
    public static async Task<ResponseConformance> DocumentAsync(IServiceProvider services)
    {
        if (Volatile.Read(ref _document) is { } known)
        {
            return known;
        }

        await DocumentLock.WaitAsync();
        try
        {
            if (_document is null)
            {
                var provider = services.GetRequiredKeyedService<Microsoft.AspNetCore.OpenApi.IOpenApiDocumentProvider>("v1");
                var document = await provider.GetOpenApiDocumentAsync();
                await using var text = new StringWriter();
                document.SerializeAsV31(new OpenApiJsonWriter(text));
                _document = new ResponseConformance(text.ToString());
            }

            return _document;
        }
        finally
        {
            DocumentLock.Release();
        }
    }
}

/// <summary>Puts <see cref="ConformanceMiddleware"/> first in the pipeline, outside the exception handler and status pages.</summary>
internal sealed class ConformanceStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseMiddleware<ConformanceMiddleware>();
        next(app);
    };
}

/// <summary>
/// Checks every <c>/api</c> response of the host against the served OpenAPI document (<see cref="ResponseConformance"/>).
/// It sees the final status and body, after the exception handler and the status-code pages. The body passes straight
/// through; a JSON body is also copied, up to <see cref="MaxBody"/>, so streams (SSE, CSV, Parquet) are never held back.
/// </summary>
internal sealed class ConformanceMiddleware(RequestDelegate next)
{
    public const int MaxBody = 1 << 20;

    public async Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
        {
            await next(context);
            return;
        }

        // The exception handler clears the endpoint before it writes the problem: remember the one routing chose.
        var endpoint = new RememberedEndpoint(context.Features.Get<IEndpointFeature>());
        context.Features.Set<IEndpointFeature>(endpoint);
        var original = context.Response.Body;
        var tee = new TeeStream(original, context.Response);
        context.Response.Body = tee;
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = original;
        }

        if (endpoint.Matched is not RouteEndpoint route)
        {
            return;
        }

        var conformance = await ConformanceLog.DocumentAsync(context.RequestServices);
        var template = Template(route);
        if (!conformance.Documents(context.Request.Method, template))
        {
            return;
        }

        var body = tee.Overflowed ? null : tee.Copy?.ToArray();
        ConformanceLog.Record(conformance.Check(new ObservedResponse(
            context.Request.Method, template, context.Response.StatusCode, context.Response.ContentType, body)));
    }

    /// <summary>The route as the document writes its path: parameters without their constraints.</summary>
    public static string Template(RouteEndpoint endpoint)
    {
        var path = new StringBuilder();
        foreach (var segment in endpoint.RoutePattern.PathSegments)
        {
            path.Append('/');
            foreach (var part in segment.Parts)
            {
                path.Append(part switch
                {
                    RoutePatternLiteralPart literal => literal.Content,
                    RoutePatternParameterPart parameter => $"{{{parameter.Name}}}",
                    RoutePatternSeparatorPart separator => separator.Content,
                    _ => "",
                });
            }
        }

        return path.Length == 0 ? "/" : path.ToString();
    }

    private sealed class RememberedEndpoint(IEndpointFeature? inner) : IEndpointFeature
    {
        private Endpoint? _endpoint = inner?.Endpoint;

        public Endpoint? Matched { get; private set; } = inner?.Endpoint;

        public Endpoint? Endpoint
        {
            get
            {
                return _endpoint;
            }

            set
            {
                _endpoint = value;
                Matched = value ?? Matched;
            }
        }
    }

    /// <summary>Writes through to the response and keeps a copy of a JSON body up to the cap.</summary>
    private sealed class TeeStream(Stream inner, HttpResponse response) : Stream
    {
        private bool? _keep;

        public MemoryStream? Copy { get; private set; }

        public bool Overflowed { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            Keep(buffer.AsSpan(offset, count));
            inner.Write(buffer, offset, count);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Keep(buffer.Span);
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        private void Keep(ReadOnlySpan<byte> bytes)
        {
            // Decided on the first write, when the Content-Type is set: only JSON bodies are validated.
            _keep ??= response.ContentType?.Split(';')[0].Trim() is { } type
                && (type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
                    || type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
            if (_keep != true || Overflowed)
            {
                return;
            }

            Copy ??= new MemoryStream();
            if (Copy.Length + bytes.Length > MaxBody)
            {
                Overflowed = true;
                Copy = null;
                return;
            }

            Copy.Write(bytes);
        }
    }
}
