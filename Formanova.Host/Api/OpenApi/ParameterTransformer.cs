using System.Globalization;
using System.Text.Json.Nodes;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Formanova.Host.Api.OpenApi;

/// <summary>
/// Lists the parameters endpoints declare with <see cref="ApiParameterExtensions.WithParameter{TBuilder}"/>: values
/// their handlers read as text and parse themselves, documented with the type and bounds the handler enforces.
/// </summary>
internal sealed class ParameterTransformer : IOpenApiOperationTransformer
{
    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        foreach (var parameter in context.Description.ActionDescriptor.EndpointMetadata.OfType<ApiParameterMetadata>())
        {
            // A handler that binds the value as text (to parse it and name it in a 400 itself) is documented with the
            // declared type and bounds instead of the text the generator saw.
            var location = parameter.In == ApiParameterLocation.Header ? ParameterLocation.Header : ParameterLocation.Query;
            operation.Parameters ??= [];
            foreach (var bound in operation.Parameters
                .Where(p => p.In == location && string.Equals(p.Name, parameter.Name, StringComparison.OrdinalIgnoreCase)).ToList())
            {
                operation.Parameters.Remove(bound);
            }

            operation.Parameters.Add(new OpenApiParameter
            {
                Name = parameter.Name,
                In = location,
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
