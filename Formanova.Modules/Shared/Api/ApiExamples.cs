using Microsoft.AspNetCore.Builder;

namespace Formanova.Modules.Shared.Api;

/// <summary>
/// A typical value of an endpoint's request body (<see cref="StatusCode"/> null) or of one of its responses, for the
/// OpenAPI document. Values are the endpoint's own records, so an example that no longer fits fails to compile; the
/// host serializes them with the API's JSON options.
/// </summary>
public sealed record ApiExampleMetadata(int? StatusCode, object Value, string? MediaType = null);

public static class ApiExampleExtensions
{
    /// <summary>Documents <paramref name="example"/> as a typical request body.</summary>
    public static TBuilder WithRequestExample<TBuilder>(this TBuilder builder, object example, string? mediaType = null)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ApiExampleMetadata(null, example, mediaType));

    /// <summary>Documents <paramref name="example"/> as a typical body of the <paramref name="statusCode"/> response.</summary>
    public static TBuilder WithResponseExample<TBuilder>(
        this TBuilder builder, object example, int statusCode = 200, string? mediaType = null)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ApiExampleMetadata(statusCode, example, mediaType));
}
