namespace Formanova.Client.Http;

/// <summary>
/// Buffers a JSON request body, once on each side of Kiota's retry handler. Before it: the handler retries a POST only
/// when its body has a known length. After it, next to the transport: the handler builds the next attempt by copying
/// the content of the previous attempt (not of the original request), and a body already sent from a stream would
/// go out empty from the second retry on, while a buffered one reads the same every time. Streamed uploads (row
/// imports) are left alone: they are not retried.
/// </summary>
internal sealed class ReplayableBodyHandler : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Content?.Headers.ContentType?.MediaType is { } mediaType
            && mediaType.EndsWith("json", StringComparison.OrdinalIgnoreCase))
        {
            await request.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        }

        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
