using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Formanova.Modules.Shared.Api;

/// <summary>
/// The API's one <c>Idempotency-Key</c> rule. An endpoint that honours the header declares it with
/// <see cref="IdempotencyKeyExtensions.WithIdempotencyKey{TBuilder}"/>; every other endpoint ignores it.
/// <list type="bullet">
/// <item>A key is 1 to <see cref="MaxLength"/> visible ASCII characters (no spaces or control characters), sent
/// once. Anything else is a 400 naming the header (or the body field that carries the same key).</item>
/// <item>A key belongs to the API key that sent it: the same key from two callers names two requests.</item>
/// <item>The same key with the same request returns the first outcome; with a different request it is a 409.</item>
/// </list>
/// </summary>
public sealed class IdempotencyKey
{
    public const string Header = "Idempotency-Key";
    public const int MaxLength = 200;

    private IdempotencyKey(string value, string caller)
    {
        Value = value;
        Caller = caller;
    }

    /// <summary>The key as the client sent it.</summary>
    public string Value { get; }

    /// <summary>The id of the API key that sent it.</summary>
    public string Caller { get; }

    /// <summary>The header's key, or null when the request has none. A malformed key throws Invalid naming the header.</summary>
    public static IdempotencyKey? Read(HttpContext http)
    {
        var values = http.Request.Headers[Header];
        if (values.Count == 0)
        {
            return null;
        }

        if (values.Count > 1)
        {
            throw ModuleException.Invalid(Header, $"Send one {Header} header, not {values.Count}.");
        }

        return Parse(values[0] ?? "", Header, http.User);
    }

    /// <summary>
    /// The key of an endpoint that also takes it in a body or query field (<paramref name="field"/>): either may be
    /// given, or both with the same value. The field's value follows the same rule.
    /// </summary>
    public static IdempotencyKey? Read(HttpContext http, string? fieldValue, string field)
    {
        var header = Read(http);
        if (fieldValue is null)
        {
            return header;
        }

        if (header is not null && header.Value != fieldValue)
        {
            throw ModuleException.Invalid(field, $"Give one key: in the {Header} header or in '{field}', not two different ones.");
        }

        return header ?? Parse(fieldValue, field, http.User);
    }

    /// <summary>
    /// A stable id for this caller and key (<paramref name="prefix"/>, a dash and 32 hex characters): a repeated
    /// request finds the first one's run or record under it, and another caller's same key never does.
    /// </summary>
    public string Scoped(string prefix) =>
        $"{prefix}-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{Caller}\n{Value}")))[..32]}";

    /// <summary>The 409 for a key that was already used with a different request.</summary>
    public static ModuleException Conflict() =>
        new(ErrorKind.Conflict, $"This {Header} was already used with a different request; use a new key for a new request.");

    private static IdempotencyKey Parse(string value, string field, ClaimsPrincipal user)
    {
        if (value.Length == 0 || value.Length > MaxLength || value.Any(c => c is < '!' or > '~'))
        {
            throw ModuleException.Invalid(field,
                $"'{field}' must be 1 to {MaxLength} visible ASCII characters "
                + "(letters, digits and punctuation; no spaces or control characters).");
        }

        return new IdempotencyKey(value, user.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? "anonymous");
    }
}

/// <summary>Marks an endpoint that honours <c>Idempotency-Key</c> (for the OpenAPI document and the tests).</summary>
public sealed class IdempotencyKeyMetadata
{
    public static readonly IdempotencyKeyMetadata Instance = new();

    private IdempotencyKeyMetadata()
    {
    }
}

public static class IdempotencyKeyExtensions
{
    /// <summary>
    /// Declares that the endpoint honours <c>Idempotency-Key</c>, and checks the header's form before the handler
    /// runs (after authorization and body binding), so a malformed key is a 400 whatever else the request holds.
    /// </summary>
    public static TBuilder WithIdempotencyKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        builder.WithMetadata(IdempotencyKeyMetadata.Instance);
        builder.AddEndpointFilter((context, next) =>
        {
            IdempotencyKey.Read(context.HttpContext);
            return next(context);
        });
        return builder;
    }
}
