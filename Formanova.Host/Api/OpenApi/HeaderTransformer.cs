using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Formanova.Host.Api.OpenApi;

/// <summary>
/// The <c>Idempotency-Key</c> header where it is honoured, and the headers responses carry: <c>Location</c> on 201 and
/// 202, <c>Retry-After</c> on 429 and 503. (Other headers an endpoint reads itself are declared with
/// <see cref="ApiParameterExtensions.WithParameter{TBuilder}"/>.)
/// </summary>
internal sealed class HeaderTransformer : IOpenApiOperationTransformer
{
    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;

        // The header is declared only where it is honoured; every other endpoint ignores it.
        if (metadata.OfType<IdempotencyKeyMetadata>().Any())
        {
            Add(operation, new OpenApiParameter
            {
                Name = IdempotencyKey.Header,
                In = ParameterLocation.Header,
                Description = $"1–{IdempotencyKey.MaxLength} visible ASCII characters, scoped to the API key. "
                    + "A repeat with the same request returns the first outcome; with a different request, 409.",
                Schema = new OpenApiSchema
                {
                    Type = JsonSchemaType.String,
                    MinLength = 1,
                    MaxLength = IdempotencyKey.MaxLength,
                    Pattern = "^[!-~]+$",
                },
            });
        }

        foreach (var (status, response) in operation.Responses ?? [])
        {
            if (response is not OpenApiResponse concrete)
            {
                continue;
            }

            _ = status switch
            {
                "201" => AddHeader(concrete, "Location", "The URL of the created resource.", Text(), required: false),
                "202" => AddHeader(concrete, "Location", "The URL to poll for the outcome.", Text(), required: false),
                "429" or "503" => AddHeader(
                    concrete,
                    "Retry-After",
                    "Seconds to wait before retrying.",
                    new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1" },
                    required: true),
                _ => concrete,
            };
        }

        return Task.CompletedTask;
    }

    private static OpenApiSchema Text() => new() { Type = JsonSchemaType.String };

    private static void Add(OpenApiOperation operation, OpenApiParameter parameter)
    {
        operation.Parameters ??= [];
        if (!operation.Parameters
            .Any(p => p.In == parameter.In && string.Equals(p.Name, parameter.Name, StringComparison.OrdinalIgnoreCase)))
        {
            operation.Parameters.Add(parameter);
        }
    }

    private static OpenApiResponse AddHeader(
        OpenApiResponse response, string name, string description, OpenApiSchema schema, bool required)
    {
        response.Headers ??= new Dictionary<string, IOpenApiHeader>();
        response.Headers.TryAdd(name, new OpenApiHeader { Description = description, Required = required, Schema = schema });
        return response;
    }
}
