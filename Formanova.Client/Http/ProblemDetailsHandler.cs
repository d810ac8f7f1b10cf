using System.Text.Json;

namespace Formanova.Client.Http;

/// <summary>
/// Turns every answer of status 400 or above into a <see cref="FormanovaApiException"/>. It is the outermost handler,
/// so it sees an answer only after the retry handler gave up on it. Reading the body here rather than through the
/// generated error classes keeps <c>traceId</c>, <c>errors</c> and any other member whatever the document declares.
/// </summary>
internal sealed class ProblemDetailsHandler : DelegatingHandler
{
    private static readonly HashSet<string> KnownMembers = new(StringComparer.Ordinal)
    {
        "type", "title", "status", "detail", "instance", "traceId", "errors",
    };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if ((int)response.StatusCode < 400)
        {
            return response;
        }

        using (response)
        {
            throw await ReadAsync(response, cancellationToken).ConfigureAwait(false);
        }
    }

    internal static async Task<FormanovaApiException> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var retryAfter = response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => (TimeSpan?)null,
        };
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(body);
            root = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return new FormanovaApiException(status, response.ReasonPhrase, null, null) { RetryAfter = retryAfter };
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            return new FormanovaApiException(status, response.ReasonPhrase, null, null) { RetryAfter = retryAfter };
        }

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (root.TryGetProperty("errors", out var errorMap) && errorMap.ValueKind == JsonValueKind.Object)
        {
            foreach (var field in errorMap.EnumerateObject())
            {
                errors[field.Name] = field.Value.ValueKind == JsonValueKind.Array
                    ? [.. field.Value.EnumerateArray().Select(m => m.ValueKind == JsonValueKind.String ? m.GetString()! : m.GetRawText())]
                    : [field.Value.ToString()];
            }
        }

        var extensions = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var member in root.EnumerateObject().Where(m => !KnownMembers.Contains(m.Name)))
        {
            extensions[member.Name] = member.Value;
        }

        return new FormanovaApiException(
            status,
            Text(root, "title") ?? response.ReasonPhrase,
            Text(root, "detail"),
            Text(root, "traceId"),
            errors,
            Text(root, "type"),
            Text(root, "instance"),
            extensions)
        {
            RetryAfter = retryAfter,
        };
    }

    private static string? Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
