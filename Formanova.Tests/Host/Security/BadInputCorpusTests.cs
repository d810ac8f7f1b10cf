using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Formanova.Tests.Support;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Formanova.Tests.Host.Security;

/// <summary>
/// Sends every /api endpoint the generated <see cref="BadInputCorpus"/>: hostile route values, and (for endpoints that
/// take a body) malformed, mistyped, oversized and wrongly typed bodies. No answer may be a 5xx, hang, or leak a
/// stack trace; and the stored data may change only in areas where some request was in fact valid. A request that
/// Kestrel's HTTP parser refuses before the app runs (a NUL in the path) gets Kestrel's empty 400.
/// </summary>
[Category("Integration")]
public sealed partial class BadInputCorpusTests
{
    [Test]
    public async Task EveryApiEndpoint_WhenSentTheCorpus_AnswersWith4xxProblemsAndKeepsItsData()
    {
        // Real Kestrel: hostile paths must meet the production parser, not the test host's.
        using var factory = new FormanovaFactory([new("Model:Bootstrap:Enabled", "false")]);
        factory.UseKestrel(0);
        factory.StartServer();
        using var client = factory.CreateClient();
        client.Timeout = Timeout.InfiniteTimeSpan;
        var endpoints = ApiEndpoints(factory);
        var before = await HostileRequests.SnapshotAsync(factory.Services);

        var failures = new List<string>();
        var successfulWrites = new HashSet<string>(StringComparer.Ordinal);
        var requests = 0;
        foreach (var (method, pattern, fields) in endpoints)
        {
            foreach (var (path, body, label) in Cases(method, pattern, fields))
            {
                requests++;
                var outcome = await HostileRequests.SendAsync(client, method, path, body);
                if (outcome.Failure is not null)
                {
                    failures.Add($"{method} {pattern} [{label}] -> {outcome.Failure}");
                }
                else if (outcome.Status is >= 200 and < 300 && method != "GET")
                {
                    successfulWrites.Add(Area(pattern));
                }
            }
        }

        var after = await HostileRequests.SnapshotAsync(factory.Services);
        var unexplained = before.Keys.Where(area => before[area] != after[area] && !successfulWrites.Contains(area)).ToList();

        TestContext.Out.WriteLine($"Corpus: {requests} requests to {endpoints.Count} endpoints " +
            $"({endpoints.Count(e => e.Fields != BadInputCorpus.CommonFields)} with typed bodies); successful writes in: " +
            $"{string.Join(", ", successfulWrites)}");
        Assert.Multiple(() =>
        {
            Assert.That(endpoints, Has.Count.GreaterThan(5));
            Assert.That(failures, Is.Empty, string.Join(Environment.NewLine, failures.Take(50)));
            Assert.That(
                unexplained,
                Is.Empty,
                "data changed where no request succeeded: " + string.Join(", ", unexplained.Select(a => $"{a} {before[a]} -> {after[a]}")));
        });
    }

    private static List<(string Method, string Pattern, IReadOnlyList<string> Fields)> ApiEndpoints(FormanovaFactory factory)
    {
        var json = factory.Services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        return factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.TrimStart('/').StartsWith("api/", StringComparison.Ordinal) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(m => (m, "/"
                    + e.RoutePattern.RawText!.TrimStart('/'), BodyFields(json, e.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType))))
            .DistinctBy(e => (e.m, e.Item2))
            .OrderBy(e => e.Item2, StringComparer.Ordinal).ThenBy(e => e.m, StringComparer.Ordinal)
            .ToList();
    }

    // Unknown fields are refused before any value is read, so the type-confusion bodies use the fields the
    // endpoint's body type has; a body without a typed contract (a dictionary, a file) gets the common names.
    private static IReadOnlyList<string> BodyFields(JsonSerializerOptions json, Type? requestType) =>
        requestType is not null && json.GetTypeInfo(requestType) is { Kind: JsonTypeInfoKind.Object, Properties.Count: > 0 } info
            ? [.. info.Properties.Select(p => p.Name)]
            : BadInputCorpus.CommonFields;

    private static IEnumerable<(string Path, (string ContentType, byte[] Bytes)? Body, string Label)> Cases(
        string method,
        string pattern,
        IReadOnlyList<string> fields)
    {
        var takesBody = method is "POST" or "PUT" or "PATCH";
        var harmlessBody = takesBody ? ("application/json", "{}"u8.ToArray()) : ((string, byte[])?)null;
        if (RouteParameter().IsMatch(pattern))
        {
            foreach (var value in BadInputCorpus.RouteValues)
            {
                yield return (RouteParameter().Replace(pattern, value), harmlessBody, $"route={value[..Math.Min(value.Length, 30)]}");
            }
        }
        else
        {
            yield return (pattern + "?limit=-1&after=abc&from=not-a-date&format=exe&onError=maybe&type=%00", harmlessBody, "hostile query");
        }

        if (takesBody)
        {
            // A well-formed id that exists nowhere, so a body that happens to be valid cannot hit real data.
            var path = RouteParameter().Replace(pattern, m => m.Value switch
            {
                var v when v.Contains("version", StringComparison.OrdinalIgnoreCase) => "9.9.9",
                var v when v.Contains("name", StringComparison.OrdinalIgnoreCase) => "corpus-missing",
                var v when v.Contains("alias", StringComparison.OrdinalIgnoreCase) => "corpus-missing",
                _ => "987654",
            });
            foreach (var (contentType, bytes, label) in BadInputCorpus.Bodies(fields))
            {
                yield return (path, (contentType, bytes), label);
            }
        }
    }

    // Which snapshot area a route writes to.
    private static string Area(string pattern) => pattern switch
    {
        _ when pattern.Contains("/keys", StringComparison.Ordinal) => "keys",
        _ when pattern.Contains("/datasets", StringComparison.Ordinal) => "datasets",
        _ when pattern.Contains("/models", StringComparison.Ordinal) => "models",
        _ when pattern.Contains("/webhooks", StringComparison.Ordinal) => "webhooks",
        _ when pattern.Contains("/events", StringComparison.Ordinal) => "events",
        _ => "other",
    };

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex RouteParameter();
}
