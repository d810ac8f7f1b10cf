extern alias JsonEverything;

using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Formanova.Tests.Support;
using JsonEverything::Json.Schema;

namespace Formanova.Tests.Host.Api;

/// <summary>
/// The served OpenAPI document against its committed snapshot (docs/openapi.json, which scripts/lint-openapi.sh lints),
/// its examples against their own schemas, and the minimum every operation documents.
/// </summary>
[Category("Integration")]
public sealed class OpenApiDocumentTests
{
    private const string UpdateVariable = "FORMANOVA_UPDATE_OPENAPI";
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch", "head", "options"];

    private string _served = null!;
    private JsonElement _document;

    [OneTimeSetUp]
    public async Task FetchAsync()
    {
        using var factory = new FormanovaFactory([new("Model:Bootstrap:Enabled", "false")]);
        _served = await factory.CreateClient().GetStringAsync("/openapi/v1.json");
        using var parsed = JsonDocument.Parse(_served);
        _document = parsed.RootElement.Clone();
    }

    [Test]
    public async Task ServedDocument_WhenComparedWithTheSnapshot_IsEqual()
    {
        var snapshotPath = Path.Combine(RepositoryFiles.Root(), "docs", "openapi.json");
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            await File.WriteAllTextAsync(snapshotPath, _served.TrimEnd() + "\n");
            Assert.Pass($"Rewrote {snapshotPath}.");
        }

        var snapshot = File.Exists(snapshotPath) ? JsonNode.Parse(await File.ReadAllTextAsync(snapshotPath)) : null;
        var differences = new List<string>();
        Compare(snapshot, JsonNode.Parse(_served), "$", differences);

        Assert.That(
            differences,
            Is.Empty,
            $"The served /openapi/v1.json differs from docs/openapi.json at:\n  {string.Join("\n  ", differences.Take(40))}\n"
                + $"If the API change is intended, update the snapshot and commit it:\n  {UpdateVariable}=1 dotnet test "
                + "Formanova.Tests --filter \"FullyQualifiedName~OpenApiDocumentTests\"");
    }

    [Test]
    public void Operations_WhenRead_EachHaveASummaryADescriptionAndASuccessResponse()
    {
        var operations = Operations().ToList();

        Assert.That(operations, Has.Count.GreaterThan(40));
        Assert.Multiple(() =>
        {
            foreach (var (name, operation) in operations)
            {
                Assert.That(Text(operation, "summary"), Is.Not.Empty, $"{name}: summary");
                // The scope line is appended to every description; an operation must say more than that.
                Assert.That(
                    Regex.Replace(Text(operation, "description"), @"\s*Scope: `\w+`\.\s*$", string.Empty),
                    Has.Length.GreaterThan(40),
                    $"{name}: a description beyond the scope line");
                Assert.That(
                    operation.GetProperty("responses").EnumerateObject().Select(r => r.Name),
                    Has.Some.StartsWith("2"),
                    $"{name}: a 2xx response");
            }
        });
    }

    [Test]
    public void Examples_WhenValidatedAgainstTheSchemaTheyAreAttachedTo_Pass()
    {
        // The whole document is one base document, so "#/components/schemas/..." references resolve from any schema.
        var baseUri = new Uri($"https://formanova.test/{Guid.NewGuid():N}/openapi.json");
        SchemaRegistry.Global.Register(new JsonElementBaseDocument(_document, baseUri));
        var examples = Examples().ToList();
        Assert.That(examples, Is.Not.Empty, "the document declares no example");

        Assert.Multiple(() =>
        {
            foreach (var (where, schemaPointer, example) in examples)
            {
                var schema = JsonSchema.FromText(JsonSerializer.Serialize(new Dictionary<string, string>
                {
                    ["$ref"] = $"{baseUri}#{string.Join('/', schemaPointer.Split('/').Select(Uri.EscapeDataString))}",
                }));
                var result = schema.Evaluate(example, new EvaluationOptions { OutputFormat = OutputFormat.List });
                var errors = (result.Details ?? [])
                    .Where(d => d.Errors is { Count: > 0 })
                    .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"));
                Assert.That(result.IsValid, $"{where} does not fit its schema: {string.Join("; ", errors)}");
            }
        });
    }

    /// <summary>Every example of a request or response body, with the JSON pointer of the schema it documents.</summary>
    private IEnumerable<(string Where, string SchemaPointer, JsonElement Example)> Examples()
    {
        foreach (var path in _document.GetProperty("paths").EnumerateObject())
        {
            foreach (var method in path.Value.EnumerateObject().Where(m => Methods.Contains(m.Name)))
            {
                var operation = $"/paths/{Escape(path.Name)}/{method.Name}";
                var bodies = new List<(string Pointer, JsonElement Content)>();
                if (method.Value.TryGetProperty("requestBody", out var request) && request.TryGetProperty("content", out var content))
                {
                    bodies.Add(($"{operation}/requestBody/content", content));
                }

                foreach (var response in method.Value.GetProperty("responses").EnumerateObject())
                {
                    if (response.Value.TryGetProperty("content", out var produced))
                    {
                        bodies.Add(($"{operation}/responses/{response.Name}/content", produced));
                    }
                }

                foreach (var (pointer, media) in bodies.SelectMany(b => b.Content.EnumerateObject().Select(m => (b.Pointer, m))))
                {
                    if (media.Value.TryGetProperty("example", out var example) && media.Value.TryGetProperty("schema", out _))
                    {
                        yield return ($"{method.Name.ToUpperInvariant()} {path.Name} {pointer[operation.Length..]}/{media.Name}",
                            $"{pointer}/{Escape(media.Name)}/schema", example);
                    }
                }
            }
        }

        foreach (var schema in _document.GetProperty("components").GetProperty("schemas").EnumerateObject())
        {
            var index = 0;
            foreach (var example in schema.Value.TryGetProperty("examples", out var listed) ? listed.EnumerateArray() : default)
            {
                var where = $"components.schemas.{schema.Name}.examples[{index++}]";
                yield return (where, $"/components/schemas/{Escape(schema.Name)}", example);
            }
        }
    }

    private IEnumerable<(string Name, JsonElement Operation)> Operations() =>
        from path in _document.GetProperty("paths").EnumerateObject()
        from method in path.Value.EnumerateObject()
        where Methods.Contains(method.Name)
        select ($"{method.Name.ToUpperInvariant()} {path.Name}", method.Value);

    private static string Text(JsonElement operation, string name) =>
        operation.TryGetProperty(name, out var value) ? value.GetString() ?? "" : "";

    private static string Escape(string segment) =>
        segment.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    /// <summary>Collects the JSON paths where <paramref name="expected"/> and <paramref name="actual"/> differ.</summary>
    private static void Compare(JsonNode? expected, JsonNode? actual, string path, List<string> differences)
    {
        switch (expected, actual)
        {
            case (JsonObject left, JsonObject right):
                foreach (var key in left.Select(p => p.Key).Union(right.Select(p => p.Key)))
                {
                    var child = $"{path}['{key}']";
                    if (!left.ContainsKey(key) || !right.ContainsKey(key))
                    {
                        differences.Add($"{child} {(left.ContainsKey(key) ? "removed" : "added")}");
                    }
                    else
                    {
                        Compare(left[key], right[key], child, differences);
                    }
                }

                break;
            case (JsonArray left, JsonArray right) when left.Count == right.Count:
                for (var i = 0; i < left.Count; i++)
                {
                    Compare(left[i], right[i], $"{path}[{i}]", differences);
                }

                break;
            default:
                if (!JsonNode.DeepEquals(expected, actual))
                {
                    differences.Add($"{path} changed");
                }

                break;
        }
    }
}
