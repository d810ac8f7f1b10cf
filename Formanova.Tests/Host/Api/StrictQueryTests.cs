using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Formanova.Modules.Shared.Api;
using Formanova.Tests.Support;
using Formanova.Tests.Support.Conformance;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Host.Api;

/// <summary>Unknown query parameters on /api operations, through the real host, and the document that lists the known ones.</summary>
[Category("Integration")]
public sealed class StrictQueryTests
{
    private FormanovaFactory _factory = null!;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public void Start()
    {
        _factory = new FormanovaFactory([new("Model:Bootstrap:Enabled", "false")]);
        _client = _factory.CreateClient();
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _client.Dispose();
        _factory.Dispose();
    }

    [TestCase("/api/v1/datasets/1/rows?after=5", "after", "cursor, limit")]
    [TestCase("/api/v1/events?cursor=5", "cursor", "after, limit, source, type, workflowId")]
    [TestCase("/api/v1/models?page=2", "page", "none")]
    [TestCase("/api/v1/jobs?pageSize=5&size=5", "size", "pageSize")]
    public async Task Get_WhenAQueryParameterIsUnknown_Returns400NamingItAndTheAcceptedOnes(string url, string name, string accepted)
    {
        using var response = await _client.GetAsync(url);

        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), body);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        var errors = JsonDocument.Parse(body).RootElement.GetProperty("errors");
        Assert.That(errors.EnumerateObject().Select(e => e.Name), Is.EqualTo(new[] { name }), body);
        Assert.That(errors.GetProperty(name)[0].GetString(), Does.Contain("not a query parameter").And.Contain(accepted));
    }

    [TestCase("/api/v1/events?after=0&limit=1")]
    [TestCase("/api/v1/events?LIMIT=1&Type=DATASET_IMPORTED")]
    [TestCase("/api/v1/models")]
    public async Task Get_WhenEveryQueryParameterIsKnown_Succeeds(string url)
    {
        using var response = await _client.GetAsync(url);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    [TestCase("/health/live?probe=1")]
    [TestCase("/openapi/v1.json?probe=1")]
    [TestCase("/scalar/v1?probe=1")]
    public async Task Get_WhenTheEndpointIsOutsideTheApi_IgnoresUnknownQueryParameters(string url)
    {
        using var response = await _client.GetAsync(url);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task OpenApi_WhenRead_ListsExactlyTheQueryParametersEachOperationAccepts()
    {
        var document = await _client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var documented = (
            from path in document.GetProperty("paths").EnumerateObject()
            where path.Name.StartsWith("/api/", StringComparison.Ordinal)
            from method in path.Value.EnumerateObject()
            where method.Name is "get" or "post" or "put" or "patch" or "delete"
            let query = method.Value.TryGetProperty("parameters", out var parameters)
                ? parameters.EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query")
                    .Select(p => p.GetProperty("name").GetString()!)
                : []
            select (Key: $"{method.Name.ToUpperInvariant()} {path.Name}", Names: query.Order(StringComparer.OrdinalIgnoreCase).ToList()))
            .ToDictionary(o => o.Key, o => o.Names);
        var enforced = (
            from endpoint in _factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            where endpoint.RoutePattern.RawText?.StartsWith("/api/", StringComparison.Ordinal) == true
            let accepted = endpoint.Metadata.GetMetadata<AcceptedQueryMetadata>()
            from method in endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? []
            select (Key: $"{method} {ConformanceMiddleware.Template(endpoint)}", Names: accepted?.Names.ToList()))
            .ToDictionary(o => o.Key, o => o.Names);

        Assert.That(documented, Has.Count.GreaterThan(40));
        Assert.That(enforced.Keys, Is.EquivalentTo(documented.Keys));
        Assert.Multiple(() =>
        {
            foreach (var (operation, names) in documented)
            {
                Assert.That(enforced[operation], Is.Not.Null, $"{operation} has no strict query check");
                var comparer = (IEqualityComparer<string>)StringComparer.OrdinalIgnoreCase;
                Assert.That(enforced[operation], Is.EqualTo(names).Using(comparer), operation);
            }
        });
    }

    // A value minimal APIs cannot bind, or a required body that is absent, is a 400 keyed by the parameter too, as
    // the document promises for every 400.
    [TestCase("/api/v1/results?from=not-a-date", "from", "not-a-date")]
    [TestCase("/api/v1/datasets/1/rows?cursor=abc", "cursor", "abc")]
    [TestCase("/api/v1/jobs?pageSize=many", "pageSize", "many")]
    public async Task Get_WhenAQueryValueDoesNotBind_Returns400KeyedByTheParameter(string url, string name, string value)
    {
        using var response = await _client.GetAsync(url);

        var errors = await ErrorsAsync(response);
        Assert.That(errors.EnumerateObject().Select(e => e.Name), Is.EqualTo(new[] { name }));
        Assert.That(errors.GetProperty(name)[0].GetString(), Does.Contain($"'{value}'"));
    }

    [TestCase("/api/v1/training-runs")]
    [TestCase("/api/v1/keys")]
    public async Task Post_WhenTheBodyIsMissing_Returns400SayingABodyIsRequired(string url)
    {
        using var content = new StringContent(string.Empty);
        content.Headers.ContentType = new("application/json");
        using var response = await _client.PostAsync(url, content);

        var errors = await ErrorsAsync(response);
        Assert.That(errors.GetProperty(string.Empty)[0].GetString(), Is.EqualTo("A request body is required."));
    }

    private static async Task<JsonElement> ErrorsAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), body);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        return JsonDocument.Parse(body).RootElement.GetProperty("errors").Clone();
    }
}
