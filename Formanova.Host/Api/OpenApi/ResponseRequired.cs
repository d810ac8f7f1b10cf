using Microsoft.OpenApi;

namespace Formanova.Host.Api.OpenApi;

/// <summary>
/// Marks as <c>required</c> every member the server always writes, in the schemas that only responses use. A schema a
/// request also uses keeps the request's rule (<see cref="ClrTypeSchemaTransformer"/>): there a member with a default
/// may be left out.
/// </summary>
internal static class ResponseRequired
{
    /// <summary>The key under which <see cref="ClrTypeSchemaTransformer"/> leaves the members a type always writes.</summary>
    public const string WrittenKey = "formanova-written";

    public static void Apply(OpenApiDocument document)
    {
        var schemas = document.Components?.Schemas;
        if (schemas is null)
        {
            return;
        }

        var requested = new HashSet<string>(StringComparer.Ordinal);
        foreach (var operation in (document.Paths ?? []).SelectMany(p => p.Value.Operations ?? []).Select(o => o.Value))
        {
            foreach (var media in operation.RequestBody?.Content?.Values ?? [])
            {
                Visit(media.Schema, schemas, requested);
            }

            foreach (var parameter in operation.Parameters ?? [])
            {
                Visit(parameter.Schema, schemas, requested);
            }
        }

        foreach (var (name, schema) in schemas)
        {
            if (!requested.Contains(name) && schema is OpenApiSchema { Metadata: { } metadata } concrete
                && metadata.TryGetValue(WrittenKey, out var written) && written is IReadOnlyCollection<string> { Count: > 0 } members)
            {
                concrete.Required = new HashSet<string>(members, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>Collects the names of the component schemas <paramref name="schema"/> reaches.</summary>
    internal static void Visit(IOpenApiSchema? schema, IDictionary<string, IOpenApiSchema> components, HashSet<string> reached)
    {
        switch (schema)
        {
            case OpenApiSchemaReference { Reference.Id: { } id }:
                if (reached.Add(id) && components.TryGetValue(id, out var target))
                {
                    Visit(target, components, reached);
                }

                break;
            case OpenApiSchema concrete:
                foreach (var child in Children(concrete))
                {
                    Visit(child, components, reached);
                }

                break;
        }
    }

    internal static IEnumerable<IOpenApiSchema> Children(OpenApiSchema schema) =>
        (schema.Properties?.Values ?? [])
            .Concat(schema.AllOf ?? []).Concat(schema.OneOf ?? []).Concat(schema.AnyOf ?? [])
            .Append(schema.Items).Append(schema.AdditionalProperties)
            .OfType<IOpenApiSchema>();
}
