using Microsoft.AspNetCore.Builder;

namespace Formanova.Modules.Shared.Api;

/// <summary>Where a documented parameter is read from.</summary>
public enum ApiParameterLocation
{
    Query,
    Header,
}

/// <summary>The JSON Schema type of a documented parameter's value.</summary>
public enum ApiParameterType
{
    /// <summary>A JSON Schema string.</summary>
    Text,

    /// <summary>A JSON Schema integer (int64).</summary>
    WholeNumber,

    /// <summary>An array of strings: the parameter may be repeated.</summary>
    TextList,
}

/// <summary>
/// A query or header parameter that an endpoint reads from the request itself rather than binding it as a handler
/// argument (a filter shared by two endpoints, a header read before the first byte of a stream), declared so the
/// OpenAPI document lists it. The handler stays the one judge of the value; this only describes it.
/// </summary>
public sealed record ApiParameterMetadata(
    string Name,
    ApiParameterLocation In,
    ApiParameterType Type,
    string Description,
    long? Minimum = null,
    long? Maximum = null,
    IReadOnlyList<string>? Enum = null,
    string? Pattern = null,
    int? MaxLength = null);

public static class ApiParameterExtensions
{
    /// <summary>Documents <paramref name="parameter"/>, a value the handler reads from the request itself.</summary>
    public static TBuilder WithParameter<TBuilder>(this TBuilder builder, ApiParameterMetadata parameter)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(parameter);
}
