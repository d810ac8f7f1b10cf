using System.Globalization;
using System.Text.Json.Nodes;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Formanova.Host.Api.OpenApi;

/// <summary>
/// Lists the parameters endpoints declare with <see cref="ApiParameterExtensions.WithParameter{TBuilder}"/>: values
/// their handlers read from the request themselves, which the generator cannot see.
/// </summary>
internal sealed class ParameterTransformer : IOpenApiOperationTransformer
{
    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        foreach (var parameter in context.Description.ActionDescriptor.EndpointMetadata.OfType<ApiParameterMetadata>())
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = parameter.Name,
                In = parameter.In == ApiParameterLocation.Header ? ParameterLocation.Header : ParameterLocation.Query,
                Description = parameter.Description,
                Schema = Schema(parameter),
            });
        }

        return Task.CompletedTask;
    }

    private static OpenApiSchema Schema(ApiParameterMetadata parameter)
    {
        var value = new OpenApiSchema
        {
            Type = parameter.Type == ApiParameterType.WholeNumber ? JsonSchemaType.Integer : JsonSchemaType.String,
            Format = parameter.Type == ApiParameterType.WholeNumber ? "int64" : null,
            Minimum = parameter.Minimum?.ToString(CultureInfo.InvariantCulture),
            Maximum = parameter.Maximum?.ToString(CultureInfo.InvariantCulture),
            Pattern = parameter.Pattern,
            MaxLength = parameter.MaxLength,
            Enum = parameter.Enum?.Select(v => (JsonNode)JsonValue.Create(v)).ToList(),
        };
        return parameter.Type == ApiParameterType.TextList
            ? new OpenApiSchema { Type = JsonSchemaType.Array, Items = value }
            : value;
    }
}
