using System.Collections.Concurrent;
using System.Net;
using Formanova.Client;
using Formanova.Tests.Support;

namespace Formanova.Tests.Client;

/// <summary>A <see cref="FormanovaClient"/> whose requests end in the in-memory host, and what they saw on the way.</summary>
internal static class ClientKit
{
    public static FormanovaClient Create(
        FormanovaFactory factory,
        RecordingHandler? recorder = null,
        FormanovaClientOptions? options = null,
        string key = FormanovaFactory.AdminKey)
    {
        HttpMessageHandler final = factory.Server.CreateHandler();
        if (recorder is not null)
        {
            recorder.InnerHandler = final;
            final = recorder;
        }

        return new FormanovaClient(factory.Server.BaseAddress, key, final, options);
    }
}

/// <summary>The last handler before the host: records each request and its answer, and can cut an event stream short.</summary>
internal sealed class RecordingHandler : DelegatingHandler
{
    public sealed record Exchange(string Method, string PathAndQuery, HttpStatusCode Status, IReadOnlyDictionary<string, string> Headers);

    public ConcurrentQueue<Exchange> Exchanges { get; } = new();

    /// <summary>Called with each answer before the client sees it.</summary>
    public Action<HttpResponseMessage>? OnResponse { get; set; }

    /// <summary>When set, the first event-stream answer breaks (an IOException) right after this many events.</summary>
    public int? CutFirstStreamAfterEvents { get; set; }

    public IEnumerable<Exchange> To(string path) => Exchanges.Where(e => e.PathAndQuery.StartsWith(path, StringComparison.Ordinal));

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var headers = request.Headers.ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
        var response = await base.SendAsync(request, cancellationToken);
        Exchanges.Enqueue(new Exchange(request.Method.Method, request.RequestUri!.PathAndQuery, response.StatusCode, headers));
        OnResponse?.Invoke(response);
        if (CutFirstStreamAfterEvents is { } events && request.RequestUri.AbsolutePath.EndsWith("/events/stream", StringComparison.Ordinal))
        {
            CutFirstStreamAfterEvents = null;
            var inner = await response.Content.ReadAsStreamAsync(cancellationToken);
            var cut = new StreamContent(new CuttingStream(inner, events));
            foreach (var header in response.Content.Headers)
            {
                cut.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            response.Content = cut;
        }

        return response;
    }

    /// <summary>Passes an SSE body through up to the end of its n-th event with data, then fails like a dropped connection.</summary>
    private sealed class CuttingStream(Stream inner, int events) : Stream
    {
        private readonly System.Text.StringBuilder _frame = new();
        private int _remaining = events;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_remaining == 0)
            {
                throw new IOException("The test cut the connection.");
            }

            var read = await inner.ReadAsync(buffer, cancellationToken);
            for (var i = 0; i < read; i++)
            {
                _frame.Append((char)buffer.Span[i]);
                if (EndsEventWithData())
                {
                    _remaining--;
                    if (_remaining == 0)
                    {
                        return i + 1;
                    }
                }
            }

            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        // A frame ends at a blank line; it counts when one of its lines is a data field.
        private bool EndsEventWithData()
        {
            var text = _frame.ToString();
            if (!text.EndsWith("\n\n", StringComparison.Ordinal))
            {
                return false;
            }

            _frame.Clear();
            return text.StartsWith("data:", StringComparison.Ordinal) || text.Contains("\ndata:", StringComparison.Ordinal);
        }
    }
}
