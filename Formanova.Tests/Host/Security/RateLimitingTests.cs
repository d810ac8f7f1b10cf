using System.Net;
using Formanova.Tests.Support;

namespace Formanova.Tests.Host.Security;

[Category("Integration")]
public sealed class RateLimitingTests
{
    [Test]
    public async Task Get_WhenAKeyExceedsItsBucket_Returns429WithRetryAfter()
    {
        using var factory = new FormanovaFactory(
        [
            new("RateLimiting:Enabled", "true"),
            new("RateLimiting:PerKey:PermitsPerSecond", "0.01"),
            new("RateLimiting:PerKey:Burst", "3"),
        ]);
        using var client = factory.CreateClient();

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            statuses.Add((await client.GetAsync("/api/v1/keys")).StatusCode);
        }

        var limited = await client.GetAsync("/api/v1/keys");
        Assert.That(statuses.Take(3), Is.All.EqualTo(HttpStatusCode.OK));
        Assert.That(statuses.Skip(3), Is.All.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(limited.Headers.RetryAfter?.Delta?.TotalSeconds, Is.GreaterThanOrEqualTo(1));
        Assert.That(limited.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That((await client.GetAsync("/health/live")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "probes are never limited");
    }

    [Test]
    public async Task Get_WhenAnonymousCallersExceedTheAddressBucket_Returns429BeforeAuthentication()
    {
        using var factory = new FormanovaFactory(
        [
            new("RateLimiting:Enabled", "true"),
            new("RateLimiting:PerAddress:PermitsPerSecond", "0.01"),
            new("RateLimiting:PerAddress:Burst", "2"),
        ]);
        using var anonymous = factory.CreateClientWithKey(null);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add((await anonymous.GetAsync("/api/v1/keys")).StatusCode);
        }

        Assert.That(statuses, Is.EqualTo(new[]
        {
            HttpStatusCode.Unauthorized,
            HttpStatusCode.Unauthorized,
            HttpStatusCode.TooManyRequests,
            HttpStatusCode.TooManyRequests
        }));
        using var admin = factory.CreateClient();
        Assert.That((await admin.GetAsync("/api/v1/keys")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "a valid key has its own bucket");
    }
}
