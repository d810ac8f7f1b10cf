using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Formanova.Modules.Event;
using Formanova.Tests.Support;

namespace Formanova.Tests.Event.Api;

public sealed class EventEndpointsTests
{
    private FormanovaFactory _factory = null!;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        _factory = EventTestSupport.Factory();
        _client = _factory.CreateClient();
    }

    [OneTimeTearDown]
    public async Task TearDown()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    [TestCase("/api/v1/events?after=abc", "after")]
    [TestCase("/api/v1/events?after=-1", "after")]
    [TestCase("/api/v1/events?after=1&after=2", "after")]
    [TestCase("/api/v1/events?limit=0", "limit")]
    [TestCase("/api/v1/events?limit=1001", "limit")]
    [TestCase("/api/v1/events?limit=ten", "limit")]
    [TestCase("/api/v1/events?type=workflow_started", "type")]
    [TestCase("/api/v1/events?type=", "type")]
    [TestCase("/api/v1/events?type=A,B,,C", "type")]
    [TestCase("/api/v1/events?source=not%20a%20uri", "source")]
    [TestCase("/api/v1/events?source=/a&workflowId=w", "workflowId")]
    [TestCase("/api/v1/events?workflowId=a/b", "workflowId")]
    [TestCase("/api/v1/events/stream?after=x", "after")]
    [TestCase("/api/v1/events/stream?type=bad-type", "type")]
    public async Task Get_WhenAFilterOrPagingParameterIsInvalid_Returns400NamingIt(string url, string field)
    {
        using var response = await _client.GetAsync(url);

        await EventTestSupport.AssertProblemAsync(response, field);
    }

    [TestCase("abc")]
    [TestCase("-5")]
    [TestCase("1.5")]
    [TestCase("99999999999999999999999")]
    public async Task Stream_WhenLastEventIdIsMalformed_Returns400(string lastEventId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events/stream");
        request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);

        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        await EventTestSupport.AssertProblemAsync(response, "Last-Event-ID");
    }

    [Test]
    public async Task Post_WhenTheSameIdempotencyKeyIsSentTwice_Returns201ThenTheOriginalWith200()
    {
        var key = Guid.NewGuid().ToString();
        using var first = await PostAsync(
            new { type = "DATASET_IMPORTED", source = "/modules/data", data = new { rows = 10, name = "a" } },
            key);
        // The same event: data compared as JSON, so property order and 10.0 for 10 do not make it another one.
        using var second = await PostAsync(
            JsonDocument.Parse("""{"source":"/modules/data","type":"DATASET_IMPORTED","data":{"name":"a","rows":10.0}}""").RootElement,
            key);

        var created = await first.Content.ReadFromJsonAsync<JsonElement>();
        var repeated = await second.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Multiple(() =>
        {
            Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.Created));
            Assert.That(first.Headers.Location!.ToString(), Is.EqualTo($"/api/v1/events/{created.GetProperty("id").GetString()}"));
            Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(repeated.GetProperty("id").GetString(), Is.EqualTo(created.GetProperty("id").GetString()));
            Assert.That(created.GetProperty("specversion").GetString(), Is.EqualTo("1.0"));
            Assert.That(created.GetProperty("datacontenttype").GetString(), Is.EqualTo("application/json"));
        });
    }

    [Test]
    public async Task Post_WhenTheSameIdempotencyKeyComesWithAnotherEvent_Returns409AndStoresNothing()
    {
        var key = Guid.NewGuid().ToString();
        var source = $"/tests/{key}";
        using var first = await PostAsync(new { type = "DATASET_IMPORTED", source, data = new { rows = 10 } }, key);

        using var otherData = await PostAsync(new { type = "DATASET_IMPORTED", source, data = new { rows = 99 } }, key);
        using var otherSubject = await PostAsync(new { type = "DATASET_IMPORTED", source, subject = "s", data = new { rows = 10 } }, key);

        var stored = await _client.GetFromJsonAsync<JsonElement>($"/api/v1/events?source={source}");
        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(otherData.StatusCode, Is.EqualTo(HttpStatusCode.Conflict), await otherData.Content.ReadAsStringAsync());
        Assert.That(otherSubject.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That(
            (await otherData.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(),
            Does.Contain("Idempotency-Key"));
        Assert.That(stored.GetProperty("items").GetArrayLength(), Is.EqualTo(1));
    }

    [Test]
    public async Task Post_WhenTwoApiKeysUseTheSameIdempotencyKey_StoresTwoEvents()
    {
        using var other = _factory.CreateClientWithKey(await CreateKeyAsync(["write"]));
        var body = new { type = "DATASET_IMPORTED", source = "/modules/data", data = new { rows = 1 } };
        var key = Guid.NewGuid().ToString();

        using var mine = await PostAsync(body, key);
        using var theirs = await other.SendAsync(PublishRequest(body, key));

        Assert.That(mine.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(theirs.StatusCode, Is.EqualTo(HttpStatusCode.Created), "one publisher's key never returns another's event");
    }

    [Test]
    public async Task Post_WhenTheBodyKeyAndTheHeaderAgree_TakesThemAsOneKey()
    {
        var key = Guid.NewGuid().ToString();
        var body = new { type = "DATASET_IMPORTED", source = "/modules/data", idempotencyKey = key };

        using var inBoth = await PostAsync(body, key);
        using var inBody = await PostAsync(body, null);

        Assert.That(inBoth.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(inBody.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Post_WhenTypeSourceAndKeyAreInvalid_Returns400NamingEachField()
    {
        using var response = await PostAsync(new { type = "dataset.imported", source = "", idempotencyKey = "a" }, "b");

        await EventTestSupport.AssertProblemAsync(response, "idempotencyKey");
        using var invalid = await PostAsync(new { type = "dataset.imported", source = " " }, null);
        var problem = await EventTestSupport.AssertProblemAsync(invalid, "type");
        Assert.That(problem.GetProperty("errors").TryGetProperty("source", out _), Is.True);
    }

    [Test]
    public async Task GetById_WhenPublishedThroughTheModule_ReturnsTheCloudEvent()
    {
        var events = (IEventModule)_factory.Services.GetService(typeof(IEventModule))!;
        var published = await events.PublishAsync(
            new PublishEventRequest(IEventModule.ModelRegistered, "/modules/model", Subject: "models/churn/3", CorrelationId: "trace-1"));

        var body = await _client.GetFromJsonAsync<JsonElement>($"/api/v1/events/{published.Event.Id}");
        using var missing = await _client.GetAsync("/api/v1/events/999999");

        Assert.Multiple(() =>
        {
            Assert.That(body.GetProperty("type").GetString(), Is.EqualTo("MODEL_REGISTERED"));
            Assert.That(body.GetProperty("subject").GetString(), Is.EqualTo("models/churn/3"));
            Assert.That(body.GetProperty("correlationid").GetString(), Is.EqualTo("trace-1"));
            Assert.That(body.TryGetProperty("data", out _), Is.False);
            Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        });
    }

    private async Task<HttpResponseMessage> PostAsync(object body, string? key)
    {
        using var request = PublishRequest(body, key);
        return await _client.SendAsync(request);
    }

    private static HttpRequestMessage PublishRequest(object body, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events") { Content = JsonContent.Create(body) };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        return request;
    }

    private async Task<string> CreateKeyAsync(string[] scopes)
    {
        var response = await _client.PostAsJsonAsync("/api/v1/keys", new { name = "publisher", scopes });
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString()!;
    }
}
