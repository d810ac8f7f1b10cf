using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Formanova.Client.Generated;
using Formanova.Tests.Support;
using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;

namespace Formanova.Tests.Client;

/// <summary>Every operation of docs/openapi.json has a request builder with its method in the generated client.</summary>
public sealed partial class ClientCoverageTests
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch"];

    [Test]
    public void GeneratedClient_ForEveryOperationOfTheDocument_HasARequestBuilderMethod()
    {
        var document = JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryFiles.Root(), "docs", "openapi.json")))!;
        var operations = document["paths"]!.AsObject()
            .SelectMany(path => path.Value!.AsObject()
                .Where(op => Methods.Contains(op.Key))
                .Select(op => (Path: Normalize(path.Key), Method: op.Key, Id: (string?)op.Value!["operationId"])))
            .ToList();
        var builders = RequestBuilders();

        var missing = operations
            .Where(op => !builders.TryGetValue(op.Path, out var type)
                || type.GetMethod(char.ToUpperInvariant(op.Method[0]) + op.Method[1..] + "Async") is null)
            .Select(op => $"{op.Method.ToUpperInvariant()} {op.Path} ({op.Id})")
            .ToList();

        TestContext.Out.WriteLine($"Client coverage: {operations.Count - missing.Count} of {operations.Count} operations");
        Assert.That(operations, Has.Count.GreaterThan(50), "the document was read");
        Assert.That(missing, Is.Empty);
    }

    /// <summary>Each generated request builder by the path of its URL template, parameters written as <c>{}</c>.</summary>
    private static Dictionary<string, Type> RequestBuilders()
    {
        using var adapter = new HttpClientRequestAdapter(new AnonymousAuthenticationProvider());
        var template = typeof(BaseRequestBuilder).GetProperty("UrlTemplate", BindingFlags.Instance | BindingFlags.NonPublic)!;
        var result = new Dictionary<string, Type>(StringComparer.Ordinal);
        foreach (var type in typeof(FormanovaApiClient).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(BaseRequestBuilder)) && t != typeof(FormanovaApiClient)))
        {
            var builder = Activator.CreateInstance(type, new Dictionary<string, object>(), adapter)!;
            var path = ((string)template.GetValue(builder)!).Replace("{+baseurl}", "", StringComparison.Ordinal);
            result[Normalize(QueryPart().Replace(path, ""))] = type;
        }

        return result;
    }

    private static string Normalize(string path) => PathParameter().Replace(path, "{}");

    [GeneratedRegex(@"\{\?[^}]*\}")]
    private static partial Regex QueryPart();

    [GeneratedRegex(@"\{[^}?]*\}")]
    private static partial Regex PathParameter();
}
