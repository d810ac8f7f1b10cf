namespace Formanova.Modules.Shared.Errors;

public enum ErrorKind
{
    /// <summary>The request is malformed or breaks a rule (400).</summary>
    Invalid,

    /// <summary>The named resource does not exist (404).</summary>
    NotFound,

    /// <summary>The request conflicts with the current state (409).</summary>
    Conflict,

    /// <summary>The request is well-formed but cannot be processed (422).</summary>
    Unprocessable,

    /// <summary>The payload exceeds a configured limit (413).</summary>
    TooLarge,

    /// <summary>The body's content type is not one the endpoint reads (415).</summary>
    UnsupportedMediaType,

    /// <summary>A dependency is unavailable; retrying later may work (503).</summary>
    Unavailable,
}

/// <summary>
/// The one exception type modules throw for expected failures; the host maps <see cref="Kind"/> to an HTTP
/// status and <see cref="Errors"/> (field → reasons) to a validation ProblemDetails.
/// </summary>
public sealed class ModuleException : Exception
{
    public ModuleException(ErrorKind kind, string message, IReadOnlyDictionary<string, string[]>? errors = null, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        Errors = errors ?? new Dictionary<string, string[]>();
    }

    public ErrorKind Kind { get; }

    public IReadOnlyDictionary<string, string[]> Errors { get; }

    /// <summary>Further ProblemDetails members (camelCase names), such as the content types a 415 accepts.</summary>
    public IReadOnlyDictionary<string, object?> Extensions { get; init; } = new Dictionary<string, object?>();

    public static ModuleException NotFound(string what, string id) => new(ErrorKind.NotFound, $"{what} '{id}' was not found.");

    public static ModuleException Invalid(string field, string reason) =>
        new(ErrorKind.Invalid, reason, new Dictionary<string, string[]> { [field] = [reason] });

    /// <summary>A 415 naming the <c>Content-Type</c> header, for endpoints that read their body themselves.</summary>
    public static ModuleException UnsupportedContentType(string reason, IReadOnlyList<string>? accepted = null) =>
        new(ErrorKind.UnsupportedMediaType, reason, new Dictionary<string, string[]> { ["Content-Type"] = [reason] })
        {
            Extensions = accepted is null ? new Dictionary<string, object?>() : new Dictionary<string, object?> { ["accepted"] = accepted },
        };
}
