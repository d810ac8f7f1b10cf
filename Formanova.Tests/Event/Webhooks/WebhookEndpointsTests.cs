using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Formanova.Modules.Event;
using Formanova.Tests.Support;

namespace Formanova.Tests.Event.Webhooks;

public sealed class WebhookEndpointsTests
{
    private FormanovaFactory _strict = null!;
    private FormanovaFactory _loopbackAllowed = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        _strict = new FormanovaFactory();
        _loopbackAllowed = EventTestSupport.Factory();
    }

    [OneTimeTearDown]
    public async Task TearDown()
    {
        await _strict.DisposeAsync();
        await _loopbackAllowed.DisposeAsync();
    }

    [TestCase("")]
    [TestCase("not a url")]
    [TestCase("/relative/hook")]
    [TestCase("ftp://example.com/hook")]
    [TestCase("file:///etc/passwd")]
    [TestCase("javascript:alert(1)")]
    [TestCase("http://user:secret@example.com/hook")]
    [TestCase("http://example.com/hook#fragment")]
    [TestCase("http://does-not-exist.invalid/hook")]
    public async Task Create_WhenUrlIsInvalid_Returns400NamingUrl(string url)
    {
        using var response = await CreateAsync(_strict, new { url, eventTypes = All });

        await EventTestSupport.AssertProblemAsync(response, "url");
    }

    [TestCase("http://127.0.0.1:9/hook", "loopback")]
    [TestCase("http://localhost/hook", "loopback")]
    [TestCase("http://[::1]/hook", "loopback")]
    [TestCase("http://[::ffff:127.0.0.1]/hook", "loopback")]
    [TestCase("http://10.0.0.5/hook", "private")]
    [TestCase("http://172.20.1.1/hook", "private")]
    [TestCase("http://192.168.1.10/hook", "private")]
    [TestCase("http://100.64.0.1/hook", "private")]
    [TestCase("http://[fd00::1]/hook", "private")]
    [TestCase("http://169.254.169.254/latest/meta-data", "link-local")]
    [TestCase("http://[fe80::1]/hook", "link-local")]
    [TestCase("http://0.0.0.0/hook", "never")]
    [TestCase("http://224.0.0.1/hook", "never")]
    [TestCase("http://[64:ff9b::a00:1]/hook", "private")]
    [TestCase("http://198.18.0.1/hook", "never")]
    [TestCase("http://198.19.255.254/hook", "never")]
    [TestCase("http://192.0.0.8/hook", "never")]
    [TestCase("http://192.0.2.10/hook", "never")]
    [TestCase("http://198.51.100.7/hook", "never")]
    [TestCase("http://203.0.113.7/hook", "never")]
    [TestCase("http://192.88.99.1/hook", "never")]
    [TestCase("http://240.0.0.1/hook", "never")]
    [TestCase("http://255.255.255.255/hook", "never")]
    [TestCase("http://[2001:db8::1]/hook", "never")]
    [TestCase("http://[2001::1]/hook", "never")]
    [TestCase("http://[3fff::1]/hook", "never")]
    [TestCase("http://[100::1]/hook", "never")]
    [TestCase("http://[::a00:1]/hook", "never")]
    [TestCase("http://[ff02::1]/hook", "never")]
    [TestCase("http://[fec0::1]/hook", "private")]
    [TestCase("http://[64:ff9b:1::1]/hook", "private")]
    [TestCase("http://[2002:c0a8:101::1]/hook", "private")]
    public async Task Create_WhenHostIsAForbiddenAddress_Returns400SayingWhy(string url, string kind)
    {
        using var response = await CreateAsync(_strict, new { url, eventTypes = All });

        var problem = await EventTestSupport.AssertProblemAsync(response, "url");
        Assert.That(problem.GetProperty("errors").GetProperty("url")[0].GetString(), Does.Contain(kind));
    }

    [Test]
    public async Task Create_WhenLoopbackIsAllowed_StillRefusesPrivateAndLinkLocal()
    {
        using var loopback = await CreateAsync(_loopbackAllowed, new { url = "http://127.0.0.1:9/hook", eventTypes = All });
        using var privateNetwork = await CreateAsync(_loopbackAllowed, new { url = "http://10.1.2.3/hook", eventTypes = All });
        using var metadata = await CreateAsync(_loopbackAllowed, new { url = "http://169.254.169.254/", eventTypes = All });

        Assert.That(loopback.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        await EventTestSupport.AssertProblemAsync(privateNetwork, "url");
        await EventTestSupport.AssertProblemAsync(metadata, "url");
    }

    [Test]
    public async Task Create_WhenValid_ReturnsTheSecretOnlyOnce()
    {
        using var created = await CreateAsync(
            _loopbackAllowed,
            new { url = "http://127.0.0.1:9/hook", eventTypes = new[] { "MODEL_ACTIVATED" } });
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        var id = body.GetProperty("webhook").GetProperty("id").GetInt64();
        using var client = _loopbackAllowed.CreateClient();
        var fetched = await client.GetStringAsync($"/api/v1/events/webhooks/{id}");
        var listed = await client.GetStringAsync("/api/v1/events/webhooks");

        Assert.Multiple(() =>
        {
            Assert.That(body.GetProperty("secret").GetString(), Does.StartWith("whsec_").And.Length.GreaterThan(40));
            Assert.That(fetched, Does.Not.Contain("secret"));
            Assert.That(listed, Does.Not.Contain(body.GetProperty("secret").GetString()));
            Assert.That(body.GetProperty("webhook").GetProperty("eventTypes")[0].GetString(), Is.EqualTo("MODEL_ACTIVATED"));
        });
    }

    [Test]
    public async Task Create_WhenEventTypesOrSecretAreInvalid_Returns400NamingThem()
    {
        using var badType = await CreateAsync(
            _loopbackAllowed,
            new { url = "http://127.0.0.1:9/hook", eventTypes = new[] { "model activated" } });
        using var shortSecret = await CreateAsync(
            _loopbackAllowed,
            new { url = "http://127.0.0.1:9/hook", eventTypes = All, secret = "short" });

        await EventTestSupport.AssertProblemAsync(badType, "eventTypes");
        await EventTestSupport.AssertProblemAsync(shortSecret, "secret");
    }

    [Test]
    public async Task DeliveryAndReplayEndpoints_WhenIdsAreUnknownOrRangeInvalid_Return404Or400()
    {
        using var client = _loopbackAllowed.CreateClient();
        using var created = await CreateAsync(_loopbackAllowed, new { url = "http://127.0.0.1:9/hook", eventTypes = All });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("webhook").GetProperty("id").GetInt64();

        using var unknownDelivery = await client.GetAsync("/api/v1/events/deliveries/424242");
        using var unknownRedeliver = await client.PostAsync("/api/v1/events/deliveries/424242/redeliver", null);
        using var unknownReplay = await client.PostAsJsonAsync("/api/v1/events/webhooks/424242/replay", new { afterSequence = 0 });
        using var badRange = await client.PostAsJsonAsync(
            $"/api/v1/events/webhooks/{id}/replay",
            new { afterSequence = 10, toSequence = 5 });
        using var badStatus = await client.GetAsync($"/api/v1/events/webhooks/{id}/deliveries?status=done");
        using var badLimit = await client.GetAsync($"/api/v1/events/webhooks/{id}/deliveries?limit=0");

        Assert.Multiple(() =>
        {
            Assert.That(unknownDelivery.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(unknownRedeliver.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(unknownReplay.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        });
        await EventTestSupport.AssertProblemAsync(badRange, "toSequence");
        await EventTestSupport.AssertProblemAsync(badStatus, "status");
        await EventTestSupport.AssertProblemAsync(badLimit, "limit");
    }

    [TestCase("""{"url":"http://127.0.0.1:9/hook"}""")]
    [TestCase("""{"url":"http://127.0.0.1:9/hook","eventTypes":null}""")]
    [TestCase("""{"url":"http://127.0.0.1:9/hook","eventTypes":[]}""")]
    [TestCase("""{"url":"http://127.0.0.1:9/hook","eventTypes":["*","MODEL_ACTIVATED"]}""")]
    public async Task Create_WhenEventTypesAreMissingNullEmptyOrMixWithTheWildcard_Returns400NamingThemAndCreatesNothing(string body)
    {
        using var client = _loopbackAllowed.CreateClient();

        using var response = await client.PostAsync(
            "/api/v1/events/webhooks",
            new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        var problem = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), problem);
        Assert.That(problem, Does.Contain("eventTypes"));
        Assert.That(await client.GetStringAsync("/api/v1/events/webhooks"), Is.EqualTo("[]"));
    }

    [Test]
    public async Task Create_WhenEventTypesIsTheWildcard_SubscribesToEveryTypeAndSaysSo()
    {
        using var created = await CreateAsync(_loopbackAllowed, new { url = "http://127.0.0.1:9/hook", eventTypes = All });

        var webhook = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("webhook");
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(webhook.GetProperty("eventTypes").EnumerateArray().Select(t => t.GetString()), Is.EqualTo(new[] { "*" }));
        using var client = _loopbackAllowed.CreateClient();
        await client.DeleteAsync($"/api/v1/events/webhooks/{webhook.GetProperty("id").GetInt64()}");
    }

    private static readonly string[] All = [IEventModule.AllEventTypes];

    private static async Task<HttpResponseMessage> CreateAsync(FormanovaFactory factory, object body)
    {
        using var client = factory.CreateClient();
        return await client.PostAsJsonAsync("/api/v1/events/webhooks", body);
    }
}
