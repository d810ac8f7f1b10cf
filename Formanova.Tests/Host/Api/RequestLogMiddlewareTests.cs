using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Formanova.Host.Api;
using Formanova.Modules.Access;
using Formanova.Modules.Model;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Formanova.Tests.Host.Api;

[Category("Integration")]
public sealed class RequestLogMiddlewareTests
{
    private static readonly string Category = typeof(RequestLogMiddleware).FullName!;

    [Test]
    public async Task Request_WhenItEndsIn4xx_IsLoggedWithTheStatusTheClientGot()
    {
        var logs = new LogCapture();
        using var factory = Factory(logs);
        using var client = factory.CreateClient();
        using var anonymous = factory.CreateClientWithKey(null);

        var notFound = await client.GetAsync("/api/v1/models/no-such-model");
        var badJson = await client.PostAsync("/api/v1/datasets", new StringContent("{\"name\":", Encoding.UTF8, "application/json"));
        var unauthorized = await anonymous.GetAsync("/api/v1/models");
        var unknownRoute = await client.GetAsync("/api/v1/no-such-route");

        Assert.That(new[] { notFound.StatusCode, badJson.StatusCode, unauthorized.StatusCode, unknownRoute.StatusCode },
            Is.EqualTo(new[] { HttpStatusCode.NotFound, HttpStatusCode.BadRequest, HttpStatusCode.Unauthorized, HttpStatusCode.NotFound }));
        var lines = logs.Of(Category);
        Assert.That(lines.Select(l => $"{l.State["Method"]} {l.State["Route"]} {l.State["Status"]} {l.Level}"), Is.EqualTo(new[]
        {
            "GET /api/v1/models/{name} 404 Information",
            "POST /api/v1/datasets/ 400 Information",
            "GET /api/v1/models/ 401 Information",
            "GET (unmatched) 404 Information",
        }));
    }

    [Test]
    public async Task Request_WhenTheExceptionHandlerAnswers_IsLoggedInJsonWithTheStatusTheClientGot()
    {
        var logs = new JsonLogCapture();
        var faults = new FaultyModelModule
        {
            Before = (operation, _, _, _) => operation == "predict"
                ? throw new InvalidOperationException("a broken dependency")
                : Task.CompletedTask,
        };
        using var factory = new FormanovaFactory(
            [new("Model:Bootstrap:Enabled", "false")],
            services =>
            {
                services.Decorate<IModelModule>((inner, _) => faults.Wrap(inner));
                logs.AddTo(services);
            });
        using var client = factory.CreateClient();

        var responses = new[]
        {
            await client.GetAsync("/api/v1/models"),
            await client.PostAsJsonAsync("/api/v1/keys", new { name = "x", scopes = new[] { "root" } }),
            await client.GetAsync("/api/v1/models/no-such-model"),
            await client.PostAsJsonAsync("/api/v1/models/any-model/predict", new { inputs = new { tenure = 1 } }),
        };

        Assert.That(responses.Select(r => (int)r.StatusCode), Is.EqualTo(new[] { 200, 400, 404, 500 }));
        var lines = logs.Lines.Where(l => l.Contains($"\"Category\":\"{Category}\"", StringComparison.Ordinal))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("State"))
            .Select(s => $"{s.GetProperty("Method")} {s.GetProperty("Route")} {s.GetProperty("Status").GetInt32()}");
        Assert.That(lines, Is.EqualTo(new[]
        {
            "GET /api/v1/models/ 200",
            "POST /api/v1/keys/ 400",
            "GET /api/v1/models/{name} 404",
            "POST /api/v1/models/{name}/predict 500",
        }));
    }

    [Test]
    public async Task Line_ForAnAuthenticatedRequest_NamesTheRouteTemplateTraceAndKeyIdButNeitherThePathNorTheSecret()
    {
        var logs = new JsonLogCapture();
        using var factory = new FormanovaFactory([new("Model:Bootstrap:Enabled", "false")], logs.AddTo);
        using var client = factory.CreateClient();
        var keyId = (await factory.Services.GetRequiredService<IAccessModule>().ListKeysAsync()).Single().Id;

        var response = await client.GetAsync("/api/v1/models/customer-jane-doe");

        var traceId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("traceId").GetString();
        var line = logs.Lines.Single(l => l.Contains($"\"Category\":\"{Category}\"", StringComparison.Ordinal));
        var json = JsonDocument.Parse(line).RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(line, Does.Not.Contain("\n"), "one line");
            Assert.That(
                json.GetProperty("Message").GetString(),
                Does.StartWith("GET /api/v1/models/{name} 404 ").And.EndWith($"ms trace={traceId} key={keyId}"));
            Assert.That(json.GetProperty("State").GetProperty("KeyId").GetString(), Is.EqualTo(keyId));
            Assert.That(line, Does.Not.Contain("jane-doe"), "the raw path, here or in a scope");
            Assert.That(line, Does.Not.Contain(FormanovaFactory.AdminKey));
        });
    }

    [Test]
    public async Task Probe_WhenScrapedOrChecked_IsLoggedAtDebugOnly()
    {
        var logs = new LogCapture();
        using var factory = Factory(logs, ("Logging:LogLevel:Formanova.Host.Api.RequestLogMiddleware", "Debug"));
        using var client = factory.CreateClientWithKey(null);

        foreach (var probe in new[] { "/health/live", "/health/ready", "/metrics" })
        {
            Assert.That((await client.GetAsync(probe)).StatusCode, Is.EqualTo(HttpStatusCode.OK), probe);
        }

        var lines = logs.Of(Category);
        Assert.That(lines.Select(l => l.State["Route"]), Is.EquivalentTo(new[] { "/health/live", "/health/ready", "/metrics" }));
        Assert.That(lines.Select(l => l.Level).Distinct(), Is.EqualTo(new[] { LogLevel.Debug }));
    }

    [Test]
    public async Task Request_WhenRequestLoggingIsOff_IsNotLoggedAtAnyLevel()
    {
        var logs = new LogCapture();
        using var factory = Factory(
            logs,
            ("Api:RequestLogging", "false"),
            ("Logging:LogLevel:Formanova.Host.Api.RequestLogMiddleware", "Debug"));
        using var client = factory.CreateClient();

        Assert.That((await client.GetAsync("/api/v1/models")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await client.GetAsync("/api/v1/models/no-such-model")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await client.GetAsync("/health/ready")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        Assert.That(logs.Of(Category), Is.Empty);
    }

    private static FormanovaFactory Factory(LogCapture logs, params (string Key, string Value)[] settings) => new(
        settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)).Append(new("Model:Bootstrap:Enabled", "false")),
        services => services.AddSingleton<ILoggerProvider>(logs));
}
