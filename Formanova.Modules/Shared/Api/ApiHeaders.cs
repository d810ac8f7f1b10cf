using Microsoft.AspNetCore.Builder;

namespace Formanova.Modules.Shared.Api;

/// <summary>A request header an endpoint reads itself (not through parameter binding), for the OpenAPI document.</summary>
public sealed record ApiRequestHeaderMetadata(string Name, string Description, string? Pattern = null);

public static class ApiHeaderExtensions
{
    /// <summary>Documents <paramref name="name"/> as an optional request header the endpoint reads.</summary>
    public static TBuilder WithRequestHeader<TBuilder>(this TBuilder builder, string name, string description, string? pattern = null)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ApiRequestHeaderMetadata(name, description, pattern));
}
