using System.Net.Http.Headers;

namespace Formanova.Client.Http;

/// <summary>Sends the API key on every request, as <c>X-Api-Key</c> or as a bearer token.</summary>
internal sealed class ApiKeyHandler(string apiKey, bool useBearer) : DelegatingHandler
{
    public const string HeaderName = "X-Api-Key";

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (useBearer)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }
        else
        {
            request.Headers.Remove(HeaderName);
            request.Headers.TryAddWithoutValidation(HeaderName, apiKey);
        }

        return base.SendAsync(request, cancellationToken);
    }
}
