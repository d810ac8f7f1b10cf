using Microsoft.OpenApi;

namespace Formanova.Host.Api.OpenApi;

/// <summary>
/// The generator writes a nullable member of a component type as <c>oneOf: [null, $ref]</c>. Where the referenced
/// schema also admits null (a free-form <c>JsonElement</c> is <c>{}</c>), a null then matches both branches and fails
/// <c>oneOf</c>, so a valid <c>"result": null</c> is refused by validators and clients. <c>anyOf</c> says what is meant.
/// A member a validator requires to be non-null (<see cref="ValidatorSchemaTransformer"/> lists it under
/// <see cref="NotNullKey"/>) loses the null branch the generator added after the validator's rules were read.
/// </summary>
internal static class NullableReferences
{
    /// <summary>The key under which <see cref="ValidatorSchemaTransformer"/> lists the members that must not be null.</summary>
    public const string NotNullKey = "formanova-not-null";

    /// <summary>The key under which <see cref="ClrTypeSchemaTransformer"/> lists members whose items or values may be null.</summary>
    public const string NullElementsKey = "formanova-null-elements";

    public static void Apply(OpenApiDocument document)
    {
        var seen = new HashSet<IOpenApiSchema>(ReferenceEqualityComparer.Instance);
        foreach (var schema in document.Components?.Schemas?.Values ?? [])
        {
            Rewrite(schema, seen);
        }

        foreach (var operation in (document.Paths ?? []).SelectMany(p => p.Value.Operations ?? []).Select(o => o.Value))
        {
            var bodies = (operation.RequestBody?.Content?.Values ?? [])
                .Concat((operation.Responses ?? []).Values.SelectMany(r => r.Content?.Values ?? []));
            foreach (var media in bodies)
            {
                Rewrite(media.Schema, seen);
            }

            foreach (var parameter in operation.Parameters ?? [])
            {
                Rewrite(parameter.Schema, seen);
            }
        }
    }

    private static void Rewrite(IOpenApiSchema? schema, HashSet<IOpenApiSchema> seen)
    {
        if (schema is not OpenApiSchema concrete || !seen.Add(concrete))
        {
            return;
        }

        if (concrete.Properties is { } properties)
        {
            foreach (var name in Marked(concrete, NotNullKey))
            {
                if (properties.TryGetValue(name, out var member) && member is OpenApiSchema { OneOf.Count: 2 } wrapper
                    && wrapper.OneOf.Any(IsNull))
                {
                    properties[name] = wrapper.OneOf.Single(c => !IsNull(c));
                }
            }
        }

        if (concrete.Properties is { } members)
        {
            foreach (var name in Marked(concrete, NullElementsKey))
            {
                if (members.TryGetValue(name, out var member) && member is OpenApiSchema owner
                    && (owner.AdditionalProperties ?? owner.Items) is OpenApiSchema { Type: { } type } element)
                {
                    element.Type = type | JsonSchemaType.Null;
                }
            }
        }

        if (concrete.OneOf is { Count: > 1 } choices && choices.Any(IsNull))
        {
            concrete.AnyOf = choices;
            concrete.OneOf = null;
        }

        foreach (var child in ResponseRequired.Children(concrete))
        {
            Rewrite(child, seen);
        }
    }

    /// <summary>Lists a member of the schema under <paramref name="key"/>, for <see cref="Apply"/> to act on.</summary>
    public static void Mark(OpenApiSchema schema, string key, string member)
    {
        schema.Metadata ??= new Dictionary<string, object>();
        if (!schema.Metadata.TryGetValue(key, out var listed) || listed is not HashSet<string> members)
        {
            schema.Metadata[key] = members = new HashSet<string>(StringComparer.Ordinal);
        }

        members.Add(member);
    }

    private static IEnumerable<string> Marked(OpenApiSchema schema, string key) =>
        schema.Metadata is { } metadata && metadata.TryGetValue(key, out var listed) && listed is HashSet<string> members ? members : [];

    private static bool IsNull(IOpenApiSchema choice) => choice is OpenApiSchema { Type: JsonSchemaType.Null };
}
