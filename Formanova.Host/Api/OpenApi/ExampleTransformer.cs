using System.Text.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace Formanova.Host.Api.OpenApi;

/// <summary>
/// Writes the examples endpoints declare with <see cref="ApiExampleExtensions"/> into their operation, serialized as
/// the API serializes (camelCase, string enums), so the reference shows the JSON a client really sends and gets.
/// </summary>
internal sealed class ExampleTransformer(IOptions<JsonOptions> json) : IOpenApiOperationTransformer
{
    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        foreach (var example in context.Description.ActionDescriptor.EndpointMetadata.OfType<ApiExampleMetadata>())
        {
            var content = example.StatusCode is { } status
                ? operation.Responses?.GetValueOrDefault(status.ToString(System.Globalization.CultureInfo.InvariantCulture))?.Content
                : operation.RequestBody?.Content;
            var media = content?.FirstOrDefault(c => example.MediaType is null || c.Key == example.MediaType).Value
                ?? throw new InvalidOperationException(
                    $"{context.Description.HttpMethod} {context.Description.RelativePath} declares an example for "
                    + $"{(example.StatusCode is { } s ? $"response {s}" : "its request body")}, which it does not document.");
            media.Example = Serialize(example.Value);
        }

        return Task.CompletedTask;
    }

    private JsonNode? Serialize(object value) =>
        value as JsonNode ?? JsonSerializer.SerializeToNode(value, value.GetType(), json.Value.SerializerOptions);
}
