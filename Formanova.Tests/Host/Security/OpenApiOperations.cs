using System.Text.Json;

namespace Formanova.Tests.Host.Security;

/// <summary>One parameter of an operation as the OpenAPI document declares it (in: path, query or header).</summary>
internal sealed record ApiParameter(string Name, string In, JsonElement Schema, bool Required);

/// <summary>One operation of the live OpenAPI document: its parameters, request bodies by media type, and whether it streams.</summary>
internal sealed record ApiOperation(
    string Method, string Path, IReadOnlyList<ApiParameter> Parameters, IReadOnlyDictionary<string, JsonElement> Bodies, bool Streams)
{
    public override string ToString() => $"{Method} {Path}";
}

/// <summary>
/// Reads the operations and schemas of the host's /openapi/v1.json with System.Text.Json. (Microsoft.OpenApi 3.x
/// cannot be used: Microsoft.AspNetCore.OpenApi 10 pins Microsoft.OpenApi below 3.0, and one process loads one.)
/// </summary>
internal sealed class OpenApiOperations
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch", "head", "options"];
    private readonly JsonElement _schemas;

    private OpenApiOperations(JsonElement root, IReadOnlyList<ApiOperation> operations)
    {
        Operations = operations;
        _schemas = root.TryGetProperty("components", out var components) && components.TryGetProperty("schemas", out var schemas)
            ? schemas
            : default;
    }

    public IReadOnlyList<ApiOperation> Operations { get; }

    public static OpenApiOperations Parse(string json)
    {
        // A clone owns its memory, so nothing needs disposing.
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement.Clone();
        var operations = new List<ApiOperation>();
        foreach (var path in root.GetProperty("paths").EnumerateObject())
        {
            var shared = path.Value.TryGetProperty("parameters", out var common) ? Parameters(common) : [];
            foreach (var method in path.Value.EnumerateObject().Where(m => Methods.Contains(m.Name)))
            {
                var parameters = method.Value.TryGetProperty("parameters", out var own) ? [.. shared, .. Parameters(own)] : shared;
                var bodies = method.Value.TryGetProperty("requestBody", out var body) && body.TryGetProperty("content", out var content)
                    ? content.EnumerateObject().ToDictionary(c => c.Name, c => c.Value.TryGetProperty("schema", out var s) ? s : default)
                    : [];
                var streams = method.Value.TryGetProperty("responses", out var responses) && responses.EnumerateObject()
                    .Any(r => r.Value.TryGetProperty("content", out var produced) && produced.TryGetProperty("text/event-stream", out _));
                operations.Add(new ApiOperation(method.Name.ToUpperInvariant(), path.Name, parameters, bodies, streams));
            }
        }

        return new OpenApiOperations(root, operations);
    }

    private static List<ApiParameter> Parameters(JsonElement list) =>
        [
            .. list.EnumerateArray().Select(p => new ApiParameter(
            p.GetProperty("name").GetString()!, p.GetProperty("in").GetString()!,
            p.TryGetProperty("schema", out var schema) ? schema : default,
            p.TryGetProperty("required", out var required) && required.GetBoolean()))
        ];

    /// <summary>The schema with $ref followed and a nullable wrapper (oneOf null | X) unwrapped.</summary>
    public JsonElement Resolve(JsonElement schema)
    {
        for (var hops = 0; hops < 16 && schema.ValueKind == JsonValueKind.Object; hops++)
        {
            if (schema.TryGetProperty("$ref", out var reference) && reference.GetString() is { } target
                && target.StartsWith("#/components/schemas/", StringComparison.Ordinal)
                && _schemas.ValueKind == JsonValueKind.Object && _schemas.TryGetProperty(
                    target["#/components/schemas/".Length..],
                    out var named))
            {
                schema = named;
            }
            else if ((schema.TryGetProperty("oneOf", out var choices) || schema.TryGetProperty("anyOf", out choices))
                && choices.EnumerateArray().FirstOrDefault(c => !IsNullOnly(c)) is { ValueKind: JsonValueKind.Object } choice)
            {
                schema = choice;
            }
            else
            {
                break;
            }
        }

        return schema;
    }

    /// <summary>The component name a schema refers to (through a nullable wrapper), or null for an inline schema.</summary>
    public static string? RefName(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (schema.TryGetProperty("$ref", out var reference))
        {
            return reference.GetString()?.Split('/')[^1];
        }

        return (schema.TryGetProperty("oneOf", out var choices) || schema.TryGetProperty("anyOf", out choices))
            ? choices.EnumerateArray().Select(RefName).FirstOrDefault(n => n is not null)
            : null;
    }

    /// <summary>The JSON types the schema allows, "null" last; an enum counts as its values' type.</summary>
    public static IReadOnlyList<string> Types(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return [];
        }

        if (schema.TryGetProperty("type", out var type))
        {
            var types = type.ValueKind == JsonValueKind.Array
                ? type.EnumerateArray().Select(t => t.GetString()!).ToList()
                : [type.GetString()!];
            return [.. types.OrderBy(t => t == "null")];
        }

        if (schema.TryGetProperty("enum", out _))
        {
            return ["string"];
        }

        return schema.TryGetProperty("properties", out _) ? ["object"] : [];
    }

    /// <summary>The declared properties of an object schema (empty for an open dictionary or a non-object).</summary>
    public IEnumerable<(string Name, JsonElement Schema)> Properties(JsonElement schema) =>
        Resolve(schema) is { ValueKind: JsonValueKind.Object } resolved && resolved.TryGetProperty("properties", out var properties)
            ? properties.EnumerateObject().Select(p => (p.Name, p.Value))
            : [];

    public IReadOnlyList<string> Required(JsonElement schema) =>
        Resolve(schema) is { ValueKind: JsonValueKind.Object } resolved && resolved.TryGetProperty("required", out var required)
            ? [.. required.EnumerateArray().Select(r => r.GetString()!)]
            : [];

    private static bool IsNullOnly(JsonElement schema) =>
        schema.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "null";
}
