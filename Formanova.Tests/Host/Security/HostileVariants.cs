using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Formanova.Tests.Host.Security;

/// <summary>One generated request: the operation, the part attacked, the variant (its class before the colon), and what is sent.</summary>
internal sealed record HostileCase(
    ApiOperation Operation, string Target, string Variant, string Path,
    (string ContentType, byte[] Bytes)? Body, IReadOnlyList<(string Name, string Value)> Headers)
{
    public string Class => Variant.Split(':')[0];

    /// <summary>A non-finite number where the document declares a number: no answer but a 4xx is right.</summary>
    public bool MustBeRefused { get; init; }

    public override string ToString() => $"{Operation} [{Target} = {Variant}]";
}

/// <summary>
/// Valid values for everything a case does not attack, so that the hostile part reaches the code behind the
/// binding: existing ids by the path segment they follow (models/{name} → the demo model), body fields by name (or
/// by "Schema.field" where a name means different things), and
/// a valid input row for prediction inputs, and a row of the fixture dataset for row documents (CSV, JSON, NDJSON).
/// </summary>
internal sealed record HostileFixtures(
    IReadOnlyDictionary<string, string> PathValues,
    IReadOnlyDictionary<string, JsonNode> FieldValues,
    JsonObject Row,
    JsonObject DocumentRow);

/// <summary>
/// Generates, for one operation of the OpenAPI document, hostile variants of every path, query and header parameter
/// and of every body field (recursively, including optional ones), plus broken multipart and CSV documents where the
/// operation takes them. Deterministic: the same document and fixtures give the same requests, in the same order.
/// </summary>
internal sealed class HostileVariants(OpenApiOperations api, HostileFixtures fixtures)
{
    private const string Slot = "__fuzz_slot__";
    private const int MaxFieldDepth = 3;

    // Which values of each class the next field gets: successive fields start further along each class's list, from
    // a start fixed per operation.
    private int _turn;

    public IEnumerable<HostileCase> For(ApiOperation operation)
    {
        _turn = StableHash(operation.ToString());
        var body = BaselineBody(operation);
        var headers = new List<(string, string)>();
        HostileCase Case(
            string target, string variant, string path, (string, byte[])? content = null, IReadOnlyList<(string, string)>? extra = null) =>
            new(operation, target, variant, path, content ?? body, extra ?? headers);

        foreach (var parameter in operation.Parameters.Where(p => p.In == "path"))
        {
            foreach (var (label, value) in Rotate(Classified(BadInputCorpus.RouteValues), _turn++))
            {
                yield return Case($"path {parameter.Name}", label, Path(operation, parameter.Name, value) + Query(operation, null, null));
            }
        }

        var path = Path(operation, null, null);
        foreach (var parameter in operation.Parameters.Where(p => p.In == "query"))
        {
            foreach (var (label, value) in Rotate(Classified(BadInputCorpus.QueryValues), _turn++))
            {
                yield return Case($"query {parameter.Name}", label, path + Query(operation, parameter.Name, value));
            }

            yield return Case(
                $"query {parameter.Name}",
                "type:given twice",
                path + Query(operation, parameter.Name, "1") + $"&{parameter.Name}=2");
        }

        yield return Case("query", "unknown:query parameter", path + Query(operation, "fuzzUnknown", "1"));
        yield return Case("query", "unknown:invalid UTF-8 parameter name", path + Query(operation, "%FF%FE", "1"));

        foreach (var header in HeaderNames(operation))
        {
            foreach (var (label, value) in Rotate(Classified(BadInputCorpus.HeaderValues), _turn++))
            {
                yield return Case($"header {header}", label, path + Query(operation, null, null), extra: [(header, value)]);
            }

            yield return Case($"header {header}", "type:given twice", path + Query(operation, null, null),
                extra: [(header, "fuzz-a"), (header, "fuzz-b")]);
        }

        if (body is not { } baseline)
        {
            yield break;
        }

        var url = path + Query(operation, null, null);
        foreach (var contentType in BadInputCorpus.ContentTypes)
        {
            yield return Case("Content-Type", $"media:{contentType}", url, (contentType, baseline.Bytes));
        }

        foreach (var (mediaType, schema) in operation.Bodies)
        {
            foreach (var (target, variant, content, refuse) in BodyVariants(mediaType, schema))
            {
                yield return Case(target, variant, url, content) with { MustBeRefused = refuse };
            }
        }
    }

    /// <summary>The operation's request with nothing attacked: fixtures in the path, required parameters, a valid body.</summary>
    public HostileCase Valid(ApiOperation operation, string variant) =>
        new(operation, "nothing", variant, Path(operation, null, null) + Query(operation, null, null), BaselineBody(operation), []);

    /// <summary>The headers an operation reads: those the document declares, Idempotency-Key on writes, Last-Event-ID on streams.</summary>
    private static IEnumerable<string> HeaderNames(ApiOperation operation) =>
        operation.Parameters.Where(p => p.In == "header").Select(p => p.Name)
            .Concat(operation.Method is "GET" or "HEAD" ? [] : ["Idempotency-Key"])
            .Concat(operation.Streams ? ["Last-Event-ID"] : [])
            .Distinct(StringComparer.OrdinalIgnoreCase);

    private IEnumerable<(string Target, string Variant, (string ContentType, byte[] Body) Content, bool Refuse)> BodyVariants(
        string mediaType, JsonElement schema)
    {
        var resolved = api.Resolve(schema);
        var isDocument = OpenApiOperations.Types(resolved) is ["string", ..];
        switch (mediaType)
        {
            case "application/json":
                var template = isDocument ? new JsonArray(fixtures.DocumentRow.DeepClone()) : Baseline(schema, null, 0);
                foreach (var (target, root, steps, member, numeric) in Targets(template, isDocument ? default : schema))
                {
                    foreach (var (label, fragment) in member ? BadInputCorpus.UnknownMembers : Rotate(BadInputCorpus.JsonValues, _turn++))
                    {
                        var refuse = numeric && label.StartsWith("nonfinite:", StringComparison.Ordinal);
                        yield return (target, label, (mediaType, Splice(root, steps, member, fragment, "")), refuse);
                    }
                }

                break;
            case "application/x-ndjson":
                foreach (var (target, root, steps, member, _) in Targets(fixtures.DocumentRow.DeepClone(), default))
                {
                    foreach (var (label, fragment) in member ? BadInputCorpus.UnknownMembers : Rotate(BadInputCorpus.JsonValues, _turn++))
                    {
                        yield return (target, label, (mediaType, Splice(root, steps, member, fragment, "\n")), false);
                    }
                }

                break;
            case "text/csv":
                foreach (var (target, label, csv) in CsvDocuments())
                {
                    yield return (target, label, (mediaType, csv), false);
                }

                break;
            case "multipart/form-data":
                // The document names no part for a bare IFormFile; "model" is the upload's file part, and the
                // import takes the first file part whatever its name.
                var field = api.Properties(schema).Select(p => p.Name).FirstOrDefault() ?? "model";
                foreach (var (contentType, bytes, label) in BadInputCorpus.MultipartBodies(field, Csv(fixtures.DocumentRow, null, null)))
                {
                    yield return ("multipart body", label, (contentType, bytes), false);
                }

                break;
        }
    }

    /// <summary>Every field of a JSON template (and, for objects, the object itself, to add members to), with the root it lives
    /// in.</summary>
    private IEnumerable<(string Target, JsonNode? Root, object[] Steps, bool Member, bool Numeric)> Targets(
        JsonNode? template,
        JsonElement schema)
    {
        yield return ("body", template, [], false, false);
        foreach (var target in Walk(template, [], schema, template, 1))
        {
            yield return target;
        }
    }

    private IEnumerable<(string Target, JsonNode? Root, object[] Steps, bool Member, bool Numeric)> Walk(
        JsonNode? root, object[] steps, JsonElement schema, JsonNode? node, int depth)
    {
        var resolved = api.Resolve(schema);
        var properties = api.Properties(resolved).ToList();
        if (node is JsonObject obj)
        {
            yield return (Describe(steps) + " (members)", root, steps, true, false);
            if (properties.Count > 0)
            {
                foreach (var (name, propertySchema) in properties)
                {
                    var owner = root;
                    if (!obj.ContainsKey(name))
                    {
                        // An optional field absent from the baseline: attack it in a copy that has it.
                        owner = root!.DeepClone();
                        ((JsonObject)Navigate(owner, steps)!)[name] = Baseline(
                            propertySchema,
                            name,
                            depth,
                            OpenApiOperations.RefName(schema));
                    }

                    object[] at = [.. steps, name];
                    yield return (Describe(at), owner, at, false, IsNumber(propertySchema));
                    if (depth < MaxFieldDepth && Navigate(owner, at) is JsonObject or JsonArray)
                    {
                        foreach (var inner in Walk(owner, at, propertySchema, Navigate(owner, at), depth + 1))
                        {
                            yield return inner;
                        }
                    }
                }
            }
            else
            {
                // An open dictionary (prediction inputs, metric bounds): one entry of each kind of value it holds.
                foreach (var entry in obj.GroupBy(e => e.Value?.GetValueKind()).Select(g => g.First()))
                {
                    yield return (Describe([.. steps, entry.Key]), root, [.. steps, entry.Key], false, false);
                }
            }
        }
        else if (node is JsonArray { Count: > 0 } array)
        {
            object[] at = [.. steps, 0];
            var items = resolved.ValueKind == JsonValueKind.Object && resolved.TryGetProperty("items", out var i) ? i : default;
            yield return (Describe(at), root, at, false, IsNumber(items));
            if (depth < MaxFieldDepth && array[0] is JsonObject or JsonArray)
            {
                foreach (var inner in Walk(root, at, items, array[0], depth + 1))
                {
                    yield return inner;
                }
            }
        }
    }

    /// <summary>The template serialized with <paramref name="fragment"/> as the value at the path, or as a new member of the object
    /// there.</summary>
    private static byte[] Splice(JsonNode? root, object[] steps, bool member, byte[] fragment, string suffix)
    {
        if (steps.Length == 0 && !member)
        {
            return [.. fragment, .. Encoding.UTF8.GetBytes(suffix)];
        }

        var copy = root!.DeepClone();
        string marker;
        if (member)
        {
            ((JsonObject)Navigate(copy, steps)!)[Slot] = 0;
            marker = $"\"{Slot}\":0";
        }
        else
        {
            var parent = Navigate(copy, steps[..^1])!;
            if (steps[^1] is int index)
            {
                parent[index] = Slot;
            }
            else
            {
                parent[(string)steps[^1]] = Slot;
            }

            marker = $"\"{Slot}\"";
        }

        var text = copy.ToJsonString() + suffix;
        var at = text.IndexOf(marker, StringComparison.Ordinal);
        return [.. Encoding.UTF8.GetBytes(text[..at]), .. fragment, .. Encoding.UTF8.GetBytes(text[(at + marker.Length)..])];
    }

    private static JsonNode? Navigate(JsonNode? node, IEnumerable<object> steps)
    {
        foreach (var step in steps)
        {
            node = step is int index ? node?[index] : node?[(string)step];
        }

        return node;
    }

    private static string Describe(object[] steps) =>
        "body " + (steps.Length == 0 ? "$" : "$" + string.Concat(steps.Select(s => s is int i ? $"[{i}]" : $".{s}")));

    /// <summary>A value the schema accepts: a fixture for a known field name, else the simplest of the first non-null type.</summary>
    private JsonNode? Baseline(JsonElement schema, string? name, int depth, string? owner = null)
    {
        var resolved = api.Resolve(schema);
        if (resolved.ValueKind == JsonValueKind.Object && resolved.TryGetProperty("enum", out var values))
        {
            return JsonNode.Parse(values.EnumerateArray().First(v => v.ValueKind != JsonValueKind.Null).GetRawText());
        }

        if (Fixture(owner, name) is { } fixture)
        {
            return fixture.DeepClone();
        }

        switch (OpenApiOperations.Types(resolved) is [var first, ..] ? first : null)
        {
            case "object":
                var obj = new JsonObject();
                var required = api.Required(resolved);
                var type = OpenApiOperations.RefName(schema);
                foreach (var (property, propertySchema) in api.Properties(resolved))
                {
                    if (depth < 6 && (required.Contains(property) || Fixture(type, property) is not null))
                    {
                        obj[property] = Baseline(propertySchema, property, depth + 1, type);
                    }
                }

                if (resolved.TryGetProperty("properties", out _))
                {
                    return obj;
                }

                // An open dictionary: one entry of the declared value type, or an input row when any value goes.
                return resolved.TryGetProperty("additionalProperties", out var valueSchema) && valueSchema.ValueKind == JsonValueKind.Object
                    ? new JsonObject { ["fuzz"] = Baseline(valueSchema, null, depth + 1) }
                    : fixtures.Row.DeepClone();
            case "array":
                return new JsonArray(Baseline(resolved.TryGetProperty("items", out var items) ? items : default, null, depth + 1));
            case "integer":
                return 1;
            case "number":
                return 0.5;
            case "boolean":
                return false;
            case "string":
                return resolved.TryGetProperty("format", out var format) && format.GetString() == "date-time"
                    ? "2030-01-01T00:00:00Z"
                    : "fuzz";
            default:
                return "fuzz";
        }
    }

    private bool IsNumber(JsonElement schema) => OpenApiOperations.Types(api.Resolve(schema)).Any(t => t is "number" or "integer");

    /// <summary>The fixture for a field: by "Schema.field" first (where one name means different things), then by name.</summary>
    private JsonNode? Fixture(string? owner, string? name) =>
        name is null
            ? null
            : owner is not null && fixtures.FieldValues.TryGetValue($"{owner}.{name}", out var specific)
                ? specific
                : fixtures.FieldValues.GetValueOrDefault(name);

    private (string ContentType, byte[] Bytes)? BaselineBody(ApiOperation operation)
    {
        if (operation.Bodies.TryGetValue("application/json", out var schema))
        {
            var node = OpenApiOperations.Types(api.Resolve(schema)) is ["string", ..]
                ? new JsonArray(fixtures.DocumentRow.DeepClone())
                : Baseline(schema, null, 0);
            return ("application/json", Encoding.UTF8.GetBytes(node?.ToJsonString() ?? "null"));
        }

        return operation.Bodies.Count > 0 ? ("text/csv", Csv(fixtures.DocumentRow, null, null)) : null;
    }

    /// <summary>CSV documents: each hostile cell in a column of each kind, and broken structure.</summary>
    private IEnumerable<(string Target, string Variant, byte[] Csv)> CsvDocuments()
    {
        foreach (var column in fixtures.DocumentRow.GroupBy(e => e.Value?.GetValueKind()).Select(g => g.First().Key))
        {
            foreach (var (label, cell) in Rotate(BadInputCorpus.CsvCells, _turn++))
            {
                yield return ($"csv column {column}", label, Csv(fixtures.DocumentRow, column, cell));
            }
        }

        var header = string.Join(',', fixtures.DocumentRow.Select(e => e.Key));
        yield return ("csv", "csv:header only", Encoding.UTF8.GetBytes(header + "\n"));
        yield return ("csv", "csv:byte order mark only", [0xEF, 0xBB, 0xBF]);
        yield return ("csv", "csv:duplicate header", Encoding.UTF8.GetBytes($"{header},{header}\n"));
        yield return ("csv", "csv:more cells than columns", [.. Csv(fixtures.DocumentRow, null, null)[..^1], .. ",x,y\n"u8.ToArray()]);
        yield return ("csv", "csv:600 columns", Encoding.UTF8
            .GetBytes(string.Join(',', Enumerable.Range(0, 600).Select(i => $"c{i}")) + "\n"));
        yield return ("csv", "csv:unterminated quote", Encoding.UTF8.GetBytes($"{header}\n\"{new string('q', 10_000)}"));
    }

    /// <summary>A header line and one row of <paramref name="row"/>, with <paramref name="cell"/> (raw bytes) in <paramref
    /// name="column"/>.</summary>
    private static byte[] Csv(JsonObject row, string? column, byte[]? cell)
    {
        var bytes = new List<byte>(Encoding.UTF8.GetBytes(string.Join(',', row.Select(e => e.Key)) + "\n"));
        var first = true;
        foreach (var (key, value) in row)
        {
            if (!first)
            {
                bytes.Add((byte)',');
            }

            first = false;
            var text = value switch
            {
                null => "",
                JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                _ => value.ToJsonString(),
            };
            bytes.AddRange(key == column ? cell! : Encoding.UTF8.GetBytes(text));
        }

        bytes.Add((byte)'\n');
        return [.. bytes];
    }

    private string Path(ApiOperation operation, string? attacked, string? value)
    {
        var segments = operation.Path.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            if (segments[i] is ['{', .., '}'])
            {
                var name = segments[i][1..^1];
                var parameter = operation.Parameters.FirstOrDefault(p => p.In == "path" && p.Name == name);
                segments[i] = name == attacked
                    ? value!
                    : Uri.EscapeDataString(fixtures.PathValues.GetValueOrDefault(i > 0 ? segments[i - 1] : "")
                        ?? (parameter is not null && OpenApiOperations.Types(api.Resolve(parameter.Schema)) is ["integer", ..]
                            ? "987654"
                            : "fuzz-missing"));
            }
        }

        return string.Join('/', segments);
    }

    /// <summary>
    /// The query string: required parameters at valid values, and <paramref name="attacked"/> at <paramref name="value"/>
    /// (already encoded).
    /// </summary>
    private string Query(ApiOperation operation, string? attacked, string? value)
    {
        var pairs = operation.Parameters.Where(p => p.In == "query" && p.Required && p.Name != attacked)
            .Select(p => $"{Uri.EscapeDataString(p.Name)}={Uri.EscapeDataString(Baseline(p.Schema, p.Name, 0)?.ToString() ?? "")}")
            .ToList();
        if (attacked is not null)
        {
            pairs.Add($"{attacked}={value}");
        }

        return pairs.Count == 0 ? "" : "?" + string.Join('&', pairs);
    }

    /// <summary>
    /// A few values of every class (three wrong types, one of each other class) instead of all of them: each field
    /// meets every class, and successive fields of an operation take different values, so every value is still sent.
    /// </summary>
    private static IEnumerable<(string Label, T Value)> Rotate<T>(IReadOnlyList<(string Label, T Value)> variants, int turn) =>
        variants.GroupBy(v => v.Label[..v.Label.IndexOf(':', StringComparison.Ordinal)], StringComparer.Ordinal).SelectMany(group =>
        {
            var values = group.ToList();
            var take = Math.Min(values.Count, group.Key == "type" ? 3 : 1);
            return Enumerable.Range(0, take).Select(k => values[((turn * take) + k) % values.Count]);
        });

    /// <summary>FNV-1a: the same for an operation in every run (string.GetHashCode is not), whatever else the document holds.</summary>
    private static int StableHash(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash & 0x7fff);
    }

    /// <summary>Percent-encoded or header values, labelled with their class.</summary>
    private static List<(string Label, string Value)> Classified(IEnumerable<string> values) =>
        [.. values.Select(v => ($"{ClassOf(v)}:{Short(v)}", v))];

    private static string ClassOf(string value) => value switch
    {
        _ when value.Contains("..", StringComparison.Ordinal) || value.Contains("%2e", StringComparison.OrdinalIgnoreCase)
            || value.Contains("%2F", StringComparison.OrdinalIgnoreCase) || value.Contains(
                "%5C",
                StringComparison.OrdinalIgnoreCase) => "traversal",
        _ when value.Contains("%ED", StringComparison.Ordinal) || value.Contains("%FF", StringComparison.Ordinal)
            || value.Contains("%C0", StringComparison.Ordinal) || value.Any(c => c > '\u007f') => "utf8",
        "NaN" or "Infinity" or "1e999" => "nonfinite",
        _ when value.Length > 100 || value.Count(char.IsDigit) > 18 => "huge",
        "" or " " or "-1" or "0" or "1.5" or "true" or "abc" => "type",
        _ => "text",
    };

    private static string Short(string value) =>
        value.Length > 24
            ? $"{value.Length} chars"
            : string.Concat(value.Select(c => c < ' ' || c > '~' ? $"\\x{(int)c:X2}" : c.ToString(CultureInfo.InvariantCulture)));
}
