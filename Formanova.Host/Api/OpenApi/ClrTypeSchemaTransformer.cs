using System.Reflection;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Formanova.Host.Api.OpenApi;

/// <summary>
/// Gives each schema the JSON type the API really reads and writes, where the generator cannot see it:
/// <list type="bullet">
/// <item>strings and floating-point numbers: the input rules (<c>AddInputRules</c>) read them with custom converters,
/// which the generator shows as <c>{}</c>;</item>
/// <item>integers: the web defaults also read <c>"42"</c> for 42, which the generator shows as
/// <c>["integer","string"]</c> with a pattern. The document states the strict contract, integers as JSON numbers
/// (what the server always writes); the server still reads numeric strings, for clients that relied on it;</item>
/// <item>enums: string enums (the API's enum converter refuses integers);</item>
/// <item>nullable members: <c>type: [X, "null"]</c>.</item>
/// </list>
/// For objects it also leaves the members the type always writes, for <see cref="ResponseRequired"/>.
/// </summary>
internal sealed class ClrTypeSchemaTransformer : IOpenApiSchemaTransformer
{
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        var type = context.JsonTypeInfo.Type;
        var underlying = Nullable.GetUnderlyingType(type);
        var nullable = underlying is not null
            || (context.JsonPropertyInfo is { } property && (property.IsGetNullable || property.IsSetNullable) && !type.IsValueType);
        var (jsonType, format) = JsonTypeOf(underlying ?? type);
        if (jsonType is { } known && schema.Enum is not { Count: > 0 } && schema.OneOf is null && schema.AnyOf is null)
        {
            schema.Type = nullable ? known | JsonSchemaType.Null : known;
            schema.Format = format ?? schema.Format;
            schema.Pattern = known == JsonSchemaType.String ? schema.Pattern : null;
        }
        else if ((underlying ?? type).IsEnum && schema.Enum is { Count: > 0 } values)
        {
            // The generator lists null among the values of an enum it first met as a nullable member; a nullable use
            // already says so itself (oneOf: null | the enum), so the enum keeps its real values only.
            schema.Enum = [.. values.Where(v => v is not null && v.GetValueKind() != System.Text.Json.JsonValueKind.Null)];
            schema.Type = JsonSchemaType.String;
        }

        // A collection of strings or numbers comes without its item schema (the generator drops the `{}` it makes of
        // them); every array states its items.
        if (context.JsonTypeInfo is { Kind: JsonTypeInfoKind.Enumerable, ElementType: { } element } && schema.Items is null
            && JsonTypeOf(Nullable.GetUnderlyingType(element) ?? element) is ({ } itemType, var itemFormat))
        {
            schema.Items = new OpenApiSchema { Type = itemType, Format = itemFormat };
        }

        if (context.JsonTypeInfo is { Kind: JsonTypeInfoKind.Dictionary, ElementType: { } value } && schema.AdditionalProperties is null
            && JsonTypeOf(Nullable.GetUnderlyingType(value) ?? value) is ({ } valueType, var valueFormat))
        {
            schema.AdditionalProperties = new OpenApiSchema
            {
                Type = valueType,
                Format = valueFormat,
            };
        }

        if (context.JsonTypeInfo.Kind == JsonTypeInfoKind.Object)
        {
            AllowNullElements(schema, context.JsonTypeInfo);
        }

        if (context.JsonTypeInfo.Kind == JsonTypeInfoKind.Object && context.JsonPropertyInfo is null)
        {
            schema.Metadata ??= new Dictionary<string, object>();
            schema.Metadata[ResponseRequired.WrittenKey] = context.JsonTypeInfo.Properties
                .Where(p => p.Get is not null && AlwaysWritten(p))
                .Select(p => p.Name)
                .ToList();
        }

        return Task.CompletedTask;
    }

    private static (JsonSchemaType? Type, string? Format) JsonTypeOf(Type type) => type switch
    {
        _ when type == typeof(string) => (JsonSchemaType.String, null),
        _ when type == typeof(int) => (JsonSchemaType.Integer, "int32"),
        _ when type == typeof(long) => (JsonSchemaType.Integer, "int64"),
        _ when type == typeof(short) || type == typeof(byte) => (JsonSchemaType.Integer, null),
        _ when type == typeof(double) => (JsonSchemaType.Number, "double"),
        _ when type == typeof(float) => (JsonSchemaType.Number, "float"),
        _ when type == typeof(decimal) => (JsonSchemaType.Number, null),
        _ when type == typeof(Guid) => (JsonSchemaType.String, "uuid"),
        _ when type == typeof(DateTimeOffset) || type == typeof(DateTime) => (JsonSchemaType.String, "date-time"),
        _ => (null, null),
    };

    /// <summary>
    /// The generator writes the items and map values of a member as never null, whatever the member declares
    /// (<c>IReadOnlyDictionary&lt;string, string?&gt;</c>): read the member's nullability annotations instead.
    /// </summary>
    private static void AllowNullElements(OpenApiSchema schema, JsonTypeInfo type)
    {
        foreach (var property in type.Properties)
        {
            var map = property.PropertyType.GetInterfaces().Append(property.PropertyType)
                .Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>));
            var nullability = property.AttributeProvider switch
            {
                PropertyInfo member => new NullabilityInfoContext().Create(member),
                FieldInfo member => new NullabilityInfoContext().Create(member),
                _ => null,
            };
            var arguments = nullability?.GenericTypeArguments ?? [];
            var element = arguments.Length == 0 ? null : arguments[map && arguments.Length == 2 ? 1 : 0];
            if (element is { ReadState: NullabilityState.Nullable } && element.Type.IsClass)
            {
                // Applied by NullableReferences once the document is complete: the generator attaches the members'
                // schemas after this runs.
                NullableReferences.Mark(schema, NullableReferences.NullElementsKey, property.Name);
            }
        }
    }

    /// <summary>Whether the serializer writes the member every time (no ignore condition that can leave it out).</summary>
    private static bool AlwaysWritten(JsonPropertyInfo property) =>
        property.ShouldSerialize is null
        && property.AttributeProvider?.GetCustomAttributes(typeof(JsonIgnoreAttribute), inherit: true)
            .OfType<JsonIgnoreAttribute>()
            .Any(ignore => ignore.Condition != JsonIgnoreCondition.Never) != true
        && property.AttributeProvider is not PropertyInfo { GetMethod: null };
}
