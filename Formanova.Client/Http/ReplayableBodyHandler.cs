namespace Formanova.Client.Http;

/// <summary>
/// Buffers a JSON request body before the retry handler sees it. Kiota's retry clones the request by reading its
/// content again, and a body already sent from a stream would then go out empty; a buffered body reads the same every
/// time. Streamed uploads (row imports) are left alone: they are not retried.
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
