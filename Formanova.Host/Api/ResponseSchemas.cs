using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Formanova.Host.Api;

/// <summary>
/// Schema corrections so that the document describes the responses the API writes (the conformance check in
/// Formanova.Tests/Support/Conformance validates every response the test suite receives against them).
/// </summary>
internal static class ResponseSchemas
{
    public static OpenApiOptions AddResponseSchemas(this OpenApiOptions options) =>
        options.AddSchemaTransformer((schema, context, _) =>
        {
            if (schema is not OpenApiSchema own)
            {
                return Task.CompletedTask;
            }

            if (typeof(ProblemDetails).IsAssignableFrom(context.JsonTypeInfo.Type) && context.JsonPropertyInfo is null)
            {
                AllowProblemExtensions(own);
            }

            if (context.JsonPropertyInfo is null && own.Required is { Count: > 0 } required)
            {
                // A member left out when null (CloudEvent's optional attributes) is required to construct the type but
                // absent from a response that lacks it.
                foreach (var property in context.JsonTypeInfo.Properties.Where(OmittedWhenEmpty))
                {
                    required.Remove(property.Name);
                }
            }

            return Task.CompletedTask;
        }).AddDocumentTransformer((document, _, _) =>
        {
            var visited = new HashSet<OpenApiSchema>(ReferenceEqualityComparer.Instance);
            foreach (var schema in document.Components?.Schemas?.Values ?? [])
            {
                NullableAsAnyOf(schema, visited);
            }

            foreach (var operation in document.Paths.Values.SelectMany(p => (IEnumerable<OpenApiOperation>?)p.Operations?.Values ?? []))
            {
                var responses = (IEnumerable<IOpenApiResponse>?)operation.Responses?.Values ?? [];
                var media = responses.SelectMany(r => (IEnumerable<OpenApiMediaType>?)r.Content?.Values ?? [])
                    .Concat((IEnumerable<OpenApiMediaType>?)operation.RequestBody?.Content?.Values ?? []);
                foreach (var schema in media.Select(m => m.Schema))
                {
                    NullableAsAnyOf(schema, visited);
                }
            }

            return Task.CompletedTask;
        });

    /// <summary>
    /// Every problem carries <c>traceId</c>, and some more extension members (such as <c>accepted</c> on a 415), written
    /// from <see cref="ProblemDetails.Extensions"/>; the strict JSON options (unmapped members disallowed) would
    /// otherwise describe the type as closed to them.
    /// </summary>
    private static void AllowProblemExtensions(OpenApiSchema problem)
    {
        problem.AdditionalPropertiesAllowed = true;
        problem.AdditionalProperties = null;
        problem.Properties ??= new Dictionary<string, IOpenApiSchema>();
        problem.Properties["traceId"] = new OpenApiSchema
        {
            Type = JsonSchemaType.String,
            Description = "The trace id of the request, to quote when reporting it.",
        };
    }

    private static bool OmittedWhenEmpty(System.Text.Json.Serialization.Metadata.JsonPropertyInfo property) =>
        property.AttributeProvider?.GetCustomAttributes(typeof(JsonIgnoreAttribute), inherit: true)
            .OfType<JsonIgnoreAttribute>()
            .Any(a => a.Condition is JsonIgnoreCondition.WhenWritingNull or JsonIgnoreCondition.WhenWritingDefault) == true;

    /// <summary>
    /// A nullable member is written as <c>oneOf: [null, X]</c>; when X accepts null too (a <c>JsonElement</c> is any
    /// JSON value), a null matches both and oneOf refuses it. <c>anyOf</c> means what the wrapper says: null or X.
    /// </summary>
    private static void NullableAsAnyOf(IOpenApiSchema? node, HashSet<OpenApiSchema> visited)
    {
        if (node is not OpenApiSchema schema || !visited.Add(schema))
        {
            return;
        }

        if (schema.OneOf is { Count: 2 } choices && choices.Any(c => c is OpenApiSchema { Type: JsonSchemaType.Null }))
        {
            schema.AnyOf = choices;
            schema.OneOf = null;
        }

        var children = (schema.Properties?.Values ?? []).Concat(schema.AllOf ?? []).Concat(schema.AnyOf ?? [])
            .Concat(schema.OneOf ?? []).Append(schema.Items).Append(schema.AdditionalProperties);
        foreach (var child in children)
        {
            NullableAsAnyOf(child, visited);
        }
    }
}
