using System.Net;
using Microsoft.Kiota.Abstractions;

namespace Formanova.Client;

/// <summary>
/// An error answer from the API (status 400 or above), with the fields of its RFC 9457 ProblemDetails body: the
/// title, the detail, the per-field <see cref="Errors"/> of a validation failure and the server's
/// <see cref="TraceId"/> to quote in a support request.
/// </summary>
public sealed class FormanovaApiException : ApiException
{
    /// <summary>An error answer without a ProblemDetails body.</summary>
    public FormanovaApiException()
        : this(0, null, null, null)
    {
    }

    /// <summary>An error answer without a ProblemDetails body.</summary>
    public FormanovaApiException(string message)
        : base(message)
    {
        Errors = new Dictionary<string, string[]>();
        Extensions = new Dictionary<string, object?>();
    }

    /// <summary>An error answer without a ProblemDetails body.</summary>
    public FormanovaApiException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = new Dictionary<string, string[]>();
        Extensions = new Dictionary<string, object?>();
    }

    /// <summary>An error answer and what its ProblemDetails body said.</summary>
    public FormanovaApiException(
        int status,
        string? title,
        string? detail,
        string? traceId,
        IReadOnlyDictionary<string, string[]>? errors = null,
        string? type = null,
        string? instance = null,
        IReadOnlyDictionary<string, object?>? extensions = null)
        : base(Describe(status, title, detail, errors))
    {
        ResponseStatusCode = status;
        Title = title;
        Detail = detail;
        TraceId = traceId;
        Errors = errors ?? new Dictionary<string, string[]>();
        Type = type;
        Instance = instance;
        Extensions = extensions ?? new Dictionary<string, object?>();
    }

    /// <summary>The HTTP status of the answer.</summary>
    public HttpStatusCode StatusCode => (HttpStatusCode)ResponseStatusCode;

    /// <summary>The ProblemDetails <c>title</c>: the kind of problem.</summary>
    public string? Title { get; }

    /// <summary>The ProblemDetails <c>detail</c>: what went wrong with this request.</summary>
    public string? Detail { get; }

    /// <summary>The ProblemDetails <c>type</c> URI.</summary>
    public string? Type { get; }

    /// <summary>The ProblemDetails <c>instance</c>: the request path.</summary>
    public string? Instance { get; }

    /// <summary>The server's trace id of the request (<c>traceId</c>), the key to its logs.</summary>
    public string? TraceId { get; }

    /// <summary>The validation errors by field (camelCase, as in the request), empty when there were none.</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; }

    /// <summary>Every other member of the body (e.g. a conflict's current state), as JSON values.</summary>
    public IReadOnlyDictionary<string, object?> Extensions { get; }

    /// <summary>The <c>Retry-After</c> of a 429 or 503 that was still refused after the retries, if the server sent one.</summary>
    public TimeSpan? RetryAfter { get; init; }

    private static string Describe(int status, string? title, string? detail, IReadOnlyDictionary<string, string[]>? errors)
    {
        var text = $"{status} {title ?? "Error"}";
        if (!string.IsNullOrEmpty(detail))
        {
            text += $": {detail}";
        }

        if (errors is { Count: > 0 })
        {
            text += " (" + string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")) + ")";
        }

        return text;
    }
}
