using Microsoft.AspNetCore.Builder;

namespace Formanova.Modules.Shared.Api;

/// <summary>The scopes an API key can carry. <see cref="Admin"/> implies every other scope.</summary>
public static class ApiScopes
{
    public const string Read = "read";
    public const string Predict = "predict";
    public const string Write = "write";
    public const string Admin = "admin";

    /// <summary>The claim type that carries each of an authenticated key's scopes.</summary>
    public const string ClaimType = "scope";

    public static IReadOnlyList<string> All { get; } = [Read, Predict, Write, Admin];
}

/// <summary>
/// Endpoint metadata naming the scope an endpoint needs. Without it the host derives the scope from the
/// method: GET and HEAD need <see cref="ApiScopes.Read"/>, anything else <see cref="ApiScopes.Write"/>.
/// </summary>
public sealed record RequiredScopeMetadata(string Scope);

internal static class RequiredScopeExtensions
{
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, string scope) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiredScopeMetadata(scope));
}
