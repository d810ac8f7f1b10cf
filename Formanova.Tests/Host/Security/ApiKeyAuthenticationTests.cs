using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Formanova.Host.Security;
using Formanova.Modules.Access;
using Formanova.Tests.Support;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Formanova.Tests.Host.Security;

[Category("Integration")]
public sealed class ApiKeyAuthenticationTests
{
    private FormanovaFactory _factory = null!;
    private FakeTimeProvider _clock = null!;

    [OneTimeSetUp]
    public void Start()
    {
        _clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        _factory = new FormanovaFactory(configureServices: services => services.AddSingleton<TimeProvider>(_clock));
    }

    [OneTimeTearDown]
    public void Stop() => _factory.Dispose();

    private async Task<string> CreateKeyAsync(string[] scopes, DateTimeOffset? expiresAt = null)
    {
        using var admin = _factory.CreateClient();
        var response = await admin.PostAsJsonAsync("/api/v1/keys", new { name = "test key", scopes, expiresAt });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        return created.GetProperty("secret").GetString()!;
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response)
    {
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Test]
    public async Task Get_WhenNoKeyIsSent_Returns401ProblemWithChallenge()
    {
        using var client = _factory.CreateClientWithKey(null);

        var response = await client.GetAsync("/api/v1/keys");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(response.Headers.WwwAuthenticate.ToString(), Does.StartWith("Bearer"));
        Assert.That((await ProblemAsync(response)).GetProperty("detail").GetString(), Does.Contain("API key is required"));
    }

    [Test]
    public async Task Get_WhenKeyIsUnknown_Returns401()
    {
        using var client = _factory.CreateClientWithKey("fnv_not-a-real-key");

        var response = await client.GetAsync("/api/v1/keys");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await ProblemAsync(response)).GetProperty("detail").GetString(), Does.Contain("invalid, revoked or expired"));
    }

    [Test]
    public async Task Get_WhenKeyIsSentAsXApiKeyHeader_IsAccepted()
    {
        using var client = _factory.CreateClientWithKey(null);
        client.DefaultRequestHeaders.Add("X-Api-Key", FormanovaFactory.AdminKey);

        var response = await client.GetAsync("/api/v1/keys");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Post_WhenKeyLacksTheScope_Returns403NamingIt()
    {
        using var reader = _factory.CreateClientWithKey(await CreateKeyAsync(["read", "predict", "write"]));

        var response = await reader.PostAsJsonAsync("/api/v1/keys", new { name = "escalation", scopes = new[] { "admin" } });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await ProblemAsync(response)).GetProperty("detail").GetString(), Does.Contain("'admin' scope"));
    }

    [Test]
    public async Task Get_WhenKeyWasRevoked_Returns401()
    {
        var secret = await CreateKeyAsync(["admin"]);
        using var client = _factory.CreateClientWithKey(secret);
        Assert.That((await client.GetAsync("/api/v1/keys")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var id = (await (await client.GetAsync("/api/v1/keys")).Content.ReadFromJsonAsync<JsonElement>())
            .EnumerateArray().First(
                k => k.GetProperty("name").GetString() == "test " +
                    "key" && !k.GetProperty("revoked").GetBoolean()).GetProperty("id").GetString();

        using var admin = _factory.CreateClient();
        Assert.That((await admin.DeleteAsync($"/api/v1/keys/{id}")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        Assert.That((await client.GetAsync("/api/v1/keys")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task Get_WhenKeyHasExpired_Returns401()
    {
        var secret = await CreateKeyAsync(["admin"], _clock.GetUtcNow().AddHours(1));
        using var client = _factory.CreateClientWithKey(secret);
        Assert.That((await client.GetAsync("/api/v1/keys")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        _clock.Advance(TimeSpan.FromHours(2));

        Assert.That((await client.GetAsync("/api/v1/keys")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task Post_WhenCreatingAKey_ReturnsTheSecretOnceAndListingNeverShowsIt()
    {
        var secret = await CreateKeyAsync(["read"]);
        using var admin = _factory.CreateClient();

        var listing = await admin.GetStringAsync("/api/v1/keys");

        Assert.That(listing, Does.Not.Contain(secret));
        Assert.That(listing, Does.Not.Contain("hash").And.Not.Contain("salt"));
    }

    [Test]
    public async Task Post_WhenScopeIsUnknown_Returns400NamingTheField()
    {
        using var admin = _factory.CreateClient();

        var response = await admin.PostAsJsonAsync("/api/v1/keys", new { name = "x", scopes = new[] { "root" } });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ProblemAsync(response)).GetProperty("errors").TryGetProperty("scopes[0]", out _), Is.True);
    }

    [Test]
    public async Task Responses_WhenRequestCarriesAKey_HaveSecurityHeadersAndNoStore()
    {
        using var admin = _factory.CreateClient();

        var response = await admin.GetAsync("/api/v1/keys");

        Assert.That(response.Headers.GetValues("X-Content-Type-Options"), Is.EqualTo(new[] { "nosniff" }));
        Assert.That(response.Headers.CacheControl?.NoStore, Is.True);
        Assert.That(response.Headers.Contains("Server"), Is.False);
    }

    [Test]
    public async Task Probes_WhenNoKeyIsSent_StayOpen()
    {
        using var client = _factory.CreateClientWithKey(null);

        Assert.That((await client.GetAsync("/health/ready")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await client.GetAsync("/metrics")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public void Endpoints_UnderApi_AllRequireAScopePolicy()
    {
        var endpoints = _factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.TrimStart('/').StartsWith("api/", StringComparison.Ordinal) == true)
            .ToList();

        var unprotected = endpoints
            .Where(e => e.Metadata.GetMetadata<ScopeRequirementMetadata>() is null
                || !e.Metadata.GetOrderedMetadata<IAuthorizeData>()
                    .Any(a => a.Policy?.StartsWith("scope:", StringComparison.Ordinal) == true)
                || e.Metadata.GetMetadata<IAllowAnonymous>() is not null)
            .Select(e => $"{string.Join(',', e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [])} {e.RoutePattern.RawText}")
            .ToList();

        Assert.That(endpoints, Is.Not.Empty);
        Assert.That(unprotected, Is.Empty);
    }

    [Test]
    public async Task Send_WhenNoKeyIsSentAndTheContentTypeIsWrong_Returns401OnEveryEndpointThatTakesABody()
    {
        using var anonymous = _factory.CreateClientWithKey(null);

        var answers = await SendWrongContentTypeAsync(anonymous, BodyEndpoints());

        Assert.That(answers, Has.Count.GreaterThan(20));
        Assert.That(answers.Where(a => a.Status != HttpStatusCode.Unauthorized).Select(a => $"{a.Status} {a.Endpoint}"), Is.Empty);
    }

    [Test]
    public async Task Send_WhenTheKeyLacksTheScopeAndTheContentTypeIsWrong_Returns403OnEveryEndpointThatTakesABody()
    {
        using var reader = _factory.CreateClientWithKey(await CreateKeyAsync(["read"]));
        var endpoints = BodyEndpoints().Where(e => e.Scope != "read").ToList();

        var answers = await SendWrongContentTypeAsync(reader, endpoints);

        Assert.That(answers.Where(a => a.Status != HttpStatusCode.Forbidden).Select(a => $"{a.Status} {a.Endpoint}"), Is.Empty);
    }

    [Test]
    public async Task Send_WhenTheKeyMayCallAndTheContentTypeIsWrong_Returns415OnEveryEndpointThatDeclaresItsBody()
    {
        using var admin = _factory.CreateClient();
        var endpoints = BodyEndpoints().Where(e => e.DeclaresBody).ToList();

        var answers = await SendWrongContentTypeAsync(admin, endpoints);

        Assert.That(endpoints, Has.Count.GreaterThan(20));
        Assert.That(answers.Where(a => a.Status != HttpStatusCode.UnsupportedMediaType).Select(a => $"{a.Status} {a.Endpoint}"), Is.Empty);
    }

    private sealed record BodyEndpoint(string Method, string Path, string Scope, bool DeclaresBody)
    {
        public override string ToString() => $"{Method} {Path}";
    }

    /// <summary>Every POST, PUT and PATCH under /api from the routing table, with route values that satisfy their constraints.</summary>
    private List<BodyEndpoint> BodyEndpoints() =>
        ApiRoutes.Endpoints(_factory.Services)
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [])
                .Where(m => m is "POST" or "PUT" or "PATCH")
                .Select(m => new BodyEndpoint(
                    m,
                    ApiRoutes.Path(e),
                    e.Metadata.GetMetadata<ScopeRequirementMetadata>()!.Scope,
                    e.Metadata.GetMetadata<Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata>() is { ContentTypes.Count: > 0 })))
            .ToList();

    private static async Task<List<(BodyEndpoint Endpoint, HttpStatusCode Status)>> SendWrongContentTypeAsync(
        HttpClient client,
        IEnumerable<BodyEndpoint> endpoints)
    {
        var answers = new List<(BodyEndpoint, HttpStatusCode)>();
        foreach (var endpoint in endpoints)
        {
            using var request = new HttpRequestMessage(new HttpMethod(endpoint.Method), endpoint.Path)
            {
                Content = new StringContent("<model name=\"x\"/>", System.Text.Encoding.UTF8, "application/xml"),
            };
            using var response = await client.SendAsync(request);
            answers.Add((endpoint, response.StatusCode));
        }

        return answers;
    }

    [Test]
    public async Task Bootstrap_WhenNoKeyIsConfigured_GeneratesOneAdminKeyThatWorks()
    {
        using var fresh = new FormanovaFactory([new("Auth:BootstrapKey", null)]);
        var access = fresh.Services.GetRequiredService<IAccessModule>();

        var keys = await access.ListKeysAsync();

        Assert.That(keys, Has.Count.EqualTo(1));
        Assert.That(keys[0].Name, Is.EqualTo("bootstrap"));
        Assert.That(keys[0].Scopes, Is.EqualTo(new[] { "admin" }));
        using var client = fresh.CreateClient();
        Assert.That(
            (await client.GetAsync("/api/v1/keys")).StatusCode,
            Is.EqualTo(HttpStatusCode.Unauthorized),
            "the test key was not installed");
    }

    [Test]
    public async Task Get_WhenAuthIsDisabled_NeedsNoKey()
    {
        using var open = new FormanovaFactory([new("Auth:Enabled", "false")]);
        using var client = open.CreateClientWithKey(null);

        Assert.That((await client.GetAsync("/api/v1/keys")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }
}
