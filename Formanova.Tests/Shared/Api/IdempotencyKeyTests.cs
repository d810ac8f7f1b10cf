using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Formanova.Modules.Shared.Api;
using Formanova.Tests.Support;
using Microsoft.AspNetCore.Routing;

namespace Formanova.Tests.Shared.Api;

/// <summary>The one Idempotency-Key rule, checked on every endpoint that declares it (found in the routing table).</summary>
[Category("Integration")]
public sealed class IdempotencyKeyTests
{
    private FormanovaFactory _factory = null!;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        _factory = new FormanovaFactory([new("Model:Bootstrap:Enabled", "false")]);
        _client = _factory.CreateClient();
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        _client.Dispose();
        _factory.Dispose();
    }

    [Test]
    public async Task Endpoints_ThatHonourTheHeader_AreTheWorkflowStartsThePublishAndTheImportAndTheOpenApiDocumentSaysSo()
    {
        var declared = HonouringEndpoints().Select(e => $"POST {e.RoutePattern.RawText}").Order().ToList();
        var document = await _client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var documented = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Where(op => op.Value.TryGetProperty("parameters", out var ps)
                    && ps.EnumerateArray().Any(
                        p => p.GetProperty("name").GetString() == IdempotencyKey.Header && p.GetProperty("in").GetString() == "header"))
                .Select(op => $"{op.Name.ToUpperInvariant()} {path.Name}"))
            .Order().ToList();

        Assert.That(declared, Is.EqualTo(new[]
        {
            "POST /api/v1/batch-jobs/",
            "POST /api/v1/datasets/{id:long}/rows",
            "POST /api/v1/events/",
            "POST /api/v1/jobs/",
            "POST /api/v1/models/{name}/versions/{version}/promote",
            "POST /api/v1/predictions",
            "POST /api/v1/training-runs/",
        }));
        Assert.That(documented.Select(d => d.TrimEnd('/')), Is.EqualTo(declared.Select(d => Regex.Replace(d, ":long", "").TrimEnd('/'))));
    }

    [TestCase(" ", Description = "blank")]
    [TestCase("has space")]
    [TestCase("tab\there")]
    [TestCase("clé-non-ascii")]
    [TestCase(null, Description = "201 characters")]
    public async Task Post_WhenTheKeyIsMalformed_Returns400NamingTheHeaderOnEveryEndpointThatHonoursIt(string? key)
    {
        key ??= new string('k', IdempotencyKey.MaxLength + 1);

        var answers = await SendToEachAsync(request => request.Headers.TryAddWithoutValidation(IdempotencyKey.Header, key));

        Assert.That(answers.Where(a => !a.NamesTheHeader).Select(a => $"{a.Endpoint}: {a.Status} {a.Body}"), Is.Empty);
    }

    [Test]
    public async Task Post_WhenTheHeaderIsRepeated_Returns400NamingItOnEveryEndpointThatHonoursIt()
    {
        var answers = await SendToEachAsync(request => request.Headers.TryAddWithoutValidation(IdempotencyKey.Header, ["one", "two"]));

        Assert.That(answers.Where(a => !a.NamesTheHeader).Select(a => $"{a.Endpoint}: {a.Status} {a.Body}"), Is.Empty);
    }

    [Test]
    public async Task Post_WhenTheKeyIsWellFormed_IsNotRefusedForItsForm()
    {
        var longest = string.Concat(Enumerable.Repeat("a-Z_0.9:/~", 20));

        var answers = await SendToEachAsync(request => request.Headers.Add(IdempotencyKey.Header, longest));

        Assert.That(answers.Where(a => a.NamesTheHeader).Select(a => $"{a.Endpoint}: {a.Status} {a.Body}"), Is.Empty);
    }

    [Test]
    public async Task Import_WhenTwoApiKeysUseTheSameKey_ImportsBothAndARepeatImportsOnce()
    {
        var dataset = await _client.PostAsJsonAsync(
            "/api/v1/datasets",
            new { name = $"idem-{Guid.NewGuid():N}", columns = new[] { new { name = "x", type = "numeric" } } });
        var id = (await dataset.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        var created = await _client.PostAsJsonAsync("/api/v1/keys", new { name = "importer", scopes = new[] { "write", "read" } });
        using var other = _factory.CreateClientWithKey(
            (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString());
        async Task<JsonElement> Import(HttpClient client)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/datasets/{id}/rows")
            {
                Content = new StringContent("x\n1\n2\n", Encoding.UTF8, "text/csv")
            };
            request.Headers.Add(IdempotencyKey.Header, "nightly-2026-11-27");
            using var response = await client.SendAsync(request);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
            return await response.Content.ReadFromJsonAsync<JsonElement>();
        }

        var mine = await Import(_client);
        var repeat = await Import(_client);
        var theirs = await Import(other);

        Assert.That(repeat.GetProperty("replayed").GetBoolean(), Is.True);
        Assert.That(repeat.GetProperty("importId").GetString(), Is.EqualTo(mine.GetProperty("importId").GetString()));
        Assert.That(theirs.GetProperty("replayed").GetBoolean(), Is.False, "another caller's same key is another import");
        var rows = await _client.GetFromJsonAsync<JsonElement>($"/api/v1/datasets/{id}/rows");
        Assert.That(rows.GetProperty("rows").GetArrayLength(), Is.EqualTo(4));
    }

    [Test]
    public async Task Import_WhenImportIdAndTheHeaderAreBothGiven_Returns400()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/datasets/1/rows?importId=a")
        {
            Content = new StringContent("x\n1\n", Encoding.UTF8, "text/csv")
        };
        request.Headers.Add(IdempotencyKey.Header, "a");

        using var response = await _client.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(
            (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("importId", out _),
            Is.True);
    }

    private sealed record Answer(string Endpoint, HttpStatusCode Status, string Body)
    {
        public bool NamesTheHeader => Status == HttpStatusCode.BadRequest
            && JsonDocument.Parse(Body).RootElement.TryGetProperty("errors", out var errors) && errors.TryGetProperty(
                IdempotencyKey.Header,
                out _);
    }

    private List<RouteEndpoint> HonouringEndpoints() =>
        ApiRoutes.Endpoints(_factory.Services).Where(e => e.Metadata.GetMetadata<IdempotencyKeyMetadata>() is not null)
            .ToList();

    /// <summary>
    /// Sends each honouring endpoint a body that binds (so the request reaches the key check) and a key set by
    /// <paramref name="addKey"/>. Route values satisfy their constraints; the resources they name need not exist.
    /// </summary>
    private async Task<List<Answer>> SendToEachAsync(Action<HttpRequestMessage> addKey)
    {
        var answers = new List<Answer>();
        foreach (var endpoint in HonouringEndpoints())
        {
            var path = ApiRoutes.Path(endpoint);
            HttpContent content = path switch
            {
                _ when path.EndsWith("/rows", StringComparison.Ordinal) => new StringContent("x\n1\n", Encoding.UTF8, "text/csv"),
                _ when path.StartsWith("/api/v1/events", StringComparison.Ordinal) =>
                    JsonContent.Create(new { type = "TEST_EVENT", source = "/tests" }),
                _ => new StringContent("{}", Encoding.UTF8, "application/json"),
            };
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
            addKey(request);
            using var response = await _client.SendAsync(request);
            answers.Add(new Answer(path, response.StatusCode, await response.Content.ReadAsStringAsync()));
        }

        return answers;
    }
}
