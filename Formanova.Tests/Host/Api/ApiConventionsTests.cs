using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Formanova.Tests.Support;

namespace Formanova.Tests.Host.Api;

/// <summary>The /api/v1 group's conventions, as the real host applies them and its OpenAPI document shows them.</summary>
[Category("Integration")]
public sealed class ApiConventionsTests
{
    private FormanovaFactory _factory = null!;
    private JsonElement _paths;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _factory = new FormanovaFactory([new("Model:Bootstrap:Enabled", "false")]);
        var document = await _factory.CreateClient().GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        _paths = document.GetProperty("paths");
    }

    [OneTimeTearDown]
    public void Stop() => _factory.Dispose();

    private IEnumerable<(string Name, JsonElement Operation)> Operations() =>
        from path in _paths.EnumerateObject()
        where path.Name.StartsWith("/api/v1/", StringComparison.Ordinal)
        from method in path.Value.EnumerateObject()
        where method.Name is "get" or "post" or "put" or "patch" or "delete"
        select ($"{method.Name.ToUpperInvariant()} {path.Name}", method.Value);

    private static IEnumerable<string> Statuses(JsonElement operation) =>
        operation.GetProperty("responses").EnumerateObject().Select(r => r.Name);

    [Test]
    public void OpenApi_WhenRead_GivesEveryOperationASummaryAndItsProblemResponses()
    {
        var operations = Operations().ToList();

        Assert.That(operations, Has.Count.GreaterThan(40));
        Assert.Multiple(() =>
        {
            foreach (var (name, operation) in operations)
            {
                Assert.That(operation.TryGetProperty("summary", out var summary) && summary.GetString() is { Length: > 0 }, name);
                Assert.That(Statuses(operation), Is.SupersetOf(new[] { "401", "403", "429", "503" }), name);
            }
        });
    }

    [TestCase("post", "/api/v1/training-runs", "400")]
    [TestCase("post", "/api/v1/jobs/{id}/cancel", "400")]
    [TestCase("get", "/api/v1/jobs/{id}", "404")]
    [TestCase("post", "/api/v1/keys", "415")]
    public void OpenApi_WhenRead_DeclaresTheProblemThatTheEndpointCanGive(string method, string path, string status)
    {
        var operation = _paths.EnumerateObject().Single(p => p.Name.TrimEnd('/') == path).Value.GetProperty(method);

        Assert.That(Statuses(operation), Does.Contain(status));
        var content = operation.GetProperty("responses").GetProperty(status).GetProperty("content");
        Assert.That(content.TryGetProperty("application/problem+json", out _), Is.True, content.ToString());
    }

    [Test]
    public async Task Post_WhenABodyBreaksItsValidator_Returns400NamingTheFieldBeforeTheHandlerRuns()
    {
        var response = await _factory.CreateClient()
            .PostAsJsonAsync("/api/v1/jobs/no-such-job/cancel", new { reason = new string('x', 501) });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(problem.GetProperty("errors").GetProperty("reason")[0].GetString(), Does.Contain("500"));
    }
}
