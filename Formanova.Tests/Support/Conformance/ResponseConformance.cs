extern alias JsonEverything;

using System.Collections.Concurrent;
using System.Text.Json;
using JsonEverything::Json.Schema;

namespace Formanova.Tests.Support.Conformance;

/// <summary>One response as the conformance check sees it; <paramref name="Body"/> is null when it was not kept.</summary>
internal sealed record ObservedResponse(string Method, string PathTemplate, int Status, string? ContentType, byte[]? Body);

/// <summary>
/// Checks responses against the operations of an OpenAPI 3.1 document: the status (exact, <c>4XX</c> or
/// <c>default</c>), the media type, and a JSON body against the response's schema. OpenAPI 3.1 schemas are JSON Schema
/// 2020-12, so JsonSchema.Net evaluates them; the whole document is registered under one URI, and each response
/// schema is reached by a <c>$ref</c> into it, so <c>#/components/schemas/...</c> resolves as it does in the document.
/// </summary>
internal sealed class ResponseConformance
{
    private static readonly Uri DocumentUri = new("https://formanova.invalid/openapi/v1.json");
    private readonly JsonElement _paths;
    private readonly BuildOptions _build;
    private readonly ConcurrentDictionary<string, JsonSchema> _schemas = new(StringComparer.Ordinal);

    public ResponseConformance(string documentJson)
    {
        // A clone owns its memory, so nothing needs disposing.
        using var parsed = JsonDocument.Parse(documentJson);
        var root = parsed.RootElement.Clone();
        _paths = root.GetProperty("paths");
        var registry = new SchemaRegistry();
        registry.Register(DocumentUri, new JsonElementBaseDocument(root, DocumentUri));
        _build = new BuildOptions { SchemaRegistry = registry, Dialect = Dialect.Draft202012 };
    }

    /// <summary>
    /// Whether the document has this operation (a path template as the document writes it, e.g. <c>/api/v1/events/{sequence}</c>).
    /// </summary>
    public bool Documents(string method, string pathTemplate) => Operation(method, pathTemplate) is not null;

    /// <summary>What is wrong with the response, or null when it conforms (or its operation is not in the document).</summary>
    public string? Check(ObservedResponse response)
    {
        if (Operation(response.Method, response.PathTemplate) is not { } operation)
        {
            return null;
        }

        var where = $"{response.Method} {response.PathTemplate} -> {response.Status}";
        if (Response(operation, response.Status) is not { } documented)
        {
            var declared = string.Join(", ", operation.GetProperty("responses").EnumerateObject().Select(r => r.Name));
            return $"{where}: the status is not documented (declared: {declared}).{Excerpt(response.Body)}";
        }

        var mediaType = response.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        var hasContent = documented.TryGetProperty("content", out var content) && content.EnumerateObject().Any();
        if (string.IsNullOrEmpty(mediaType))
        {
            return hasContent && response.Body is { Length: > 0 }
                ? $"{where}: a body without a Content-Type.{Excerpt(response.Body)}"
                : null;
        }

        var media = hasContent ? content.EnumerateObject().FirstOrDefault(c => Matches(c.Name, mediaType)) : default;
        if (media.Value.ValueKind != JsonValueKind.Object)
        {
            var declared = hasContent ? string.Join(", ", content.EnumerateObject().Select(c => c.Name)) : "no content";
            return $"{where}: the media type {mediaType} is not documented (declared: {declared}).{Excerpt(response.Body)}";
        }

        if (response.Body is not { Length: > 0 } body || !IsJson(mediaType) || !media.Value.TryGetProperty("schema", out _))
        {
            return null;
        }

        JsonElement instance;
        try
        {
            using var json = JsonDocument.Parse(body);
            instance = json.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            return $"{where}: the {mediaType} body is not JSON ({ex.Message}).{Excerpt(body)}";
        }

        var pointer = $"#/paths/{Escape(response.PathTemplate)}/{response.Method.ToLowerInvariant()}/responses/"
            + $"{Escape(StatusKey(operation, response.Status)!)}/content/{Escape(media.Name)}/schema";
        var schema = _schemas.GetOrAdd(pointer, p => JsonSchema.Build(
            JsonDocument.Parse(JsonSerializer.Serialize(new Dictionary<string, string> { ["$ref"] = DocumentUri + p })).RootElement,
            _build));
        var result = schema.Evaluate(instance, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (result.IsValid)
        {
            return null;
        }

        var errors = new[] { result }.Concat(result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .Select(d => $"{d.InstanceLocation} (schema {d.EvaluationPath}): {string.Join("; ", d.Errors!.Values)}")
            .Take(8);
        return $"{where}: the body fails its schema: {string.Join(" | ", errors)}.{Excerpt(body)}";
    }

    private JsonElement? Operation(string method, string pathTemplate)
    {
        var path = _paths.EnumerateObject().FirstOrDefault(p => string.Equals(p.Name, pathTemplate, StringComparison.OrdinalIgnoreCase));
        return path.Value.ValueKind == JsonValueKind.Object && path.Value.TryGetProperty(method.ToLowerInvariant(), out var operation)
            ? operation
            : null;
    }

    private static JsonElement? Response(JsonElement operation, int status) =>
        StatusKey(operation, status) is { } key ? operation.GetProperty("responses").GetProperty(key) : null;

    /// <summary>The responses key that covers the status: exact first, then its range (<c>4XX</c>), then <c>default</c>.</summary>
    private static string? StatusKey(JsonElement operation, int status)
    {
        var keys = operation.TryGetProperty("responses", out var responses)
            ? responses.EnumerateObject().Select(r => r.Name).ToList()
            : [];
        var exact = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return keys.FirstOrDefault(k => k == exact)
            ?? keys.FirstOrDefault(k => string.Equals(k, $"{exact[0]}XX", StringComparison.OrdinalIgnoreCase))
            ?? keys.FirstOrDefault(k => k == "default");
    }

    private static bool Matches(string documented, string actual)
    {
        var declared = documented.Split(';')[0].Trim().ToLowerInvariant();
        return declared == actual || declared == "*/*"
            || (declared.EndsWith("/*", StringComparison.Ordinal) && actual.StartsWith(declared[..^1], StringComparison.Ordinal));
    }

    private static bool IsJson(string mediaType) =>
        mediaType == "application/json" || mediaType.EndsWith("+json", StringComparison.Ordinal);

    /// <summary>A JSON Pointer token in a URI fragment: '~' and '/' escaped, then percent-encoded.</summary>
    private static string Escape(string token) => Uri.EscapeDataString(token.Replace("~", "~0", StringComparison.Ordinal)
        .Replace("/", "~1", StringComparison.Ordinal));

    private static string Excerpt(byte[]? body)
    {
        if (body is not { Length: > 0 })
        {
            return "";
        }

        var text = System.Text.Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 300));
        return $" Body: {text}{(body.Length > 300 ? "…" : "")}";
    }
}
