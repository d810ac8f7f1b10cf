using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

[Category("Integration")]
public sealed class ExternalServiceTests
{
    [Test]
    public async Task Predictions_WithCallExternal_SendTheConfiguredAuthHeaderAndCarryTheAnswer()
    {
        string? seenAuth = null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var service = builder.Build();
        service.MapPost("/enrich", (HttpRequest request) =>
        {
            seenAuth = request.Headers["X-Service-Key"];
            return Results.Json(new { riskBand = "high" });
        });
        await service.StartAsync();

        using var factory = Factory(null,
            ("Workflows:ExternalService:Url", $"{service.Urls.First()}/enrich"),
            ("Workflows:ExternalService:AuthHeader", "X-Service-Key"),
            ("Workflows:ExternalService:AuthValue", "secret-123"));
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync(
            "/api/v1/predictions",
            new { model = DemoModel, inputs = ValidInput(), callExternal = true });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var result = await ReadAsync(response);
        Assert.Multiple(() =>
        {
            Assert.That(seenAuth, Is.EqualTo("secret-123"));
            Assert.That((int?)result["external"]!["statusCode"], Is.EqualTo(200));
            Assert.That((string?)result["external"]!["body"]!["riskBand"], Is.EqualTo("high"));
        });
    }

    [Test]
    public async Task Predictions_WhenTheExternalServiceKeepsFailing_StillAnswerWithTheFailureInTheErrorHistory()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var service = builder.Build();
        var calls = 0;
        service.MapPost("/broken", () =>
        {
            Interlocked.Increment(ref calls);
            return Results.StatusCode(503);
        });
        await service.StartAsync();

        using var factory = Factory(
            null,
            ("Workflows:ExternalService:Url", $"{service.Urls.First()}/broken"),
            ("Workflows:Retry:MaximumAttempts", "3"));
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync(
            "/api/v1/predictions",
            new { model = DemoModel, inputs = ValidInput(), callExternal = true });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var result = await ReadAsync(response);
        Assert.Multiple(() =>
        {
            Assert.That(calls, Is.EqualTo(3), "retried with the activity policy");
            Assert.That(result["external"], Is.Null);
            Assert.That((string?)result["errors"]![0]!["stage"], Is.EqualTo("external"));
            Assert.That((string?)result["label"] ?? "", Is.Not.Empty);
        });
    }
}
