using System.Net;
using System.Text;
using Formanova.Client;
using Formanova.Client.Generated.Models;

namespace Formanova.Tests.Client;

/// <summary>The retry pipeline of Formanova.Client against a scripted server, for the cases the real host makes rare.</summary>
public sealed class RetryBodyTests
{
    /// <summary>
    /// Answers 429 (Retry-After: 0) a given number of times, then 201; keeps every body it received. Like a real
    /// transport it links each answer to its request, which is what Kiota's retry copies.
    /// </summary>
    private sealed class RefusingHandler(int refusals) : HttpMessageHandler
    {
        public List<string> Bodies { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            // Read the body as a transport does, from its stream: ReadAsStringAsync would buffer it first.
            var body = "";
            if (request.Content is not null)
            {
                using var reader = new StreamReader(await request.Content.ReadAsStreamAsync(cancellationToken));
                body = await reader.ReadToEndAsync(cancellationToken);
            }

            Bodies.Add(body);
            if (Bodies.Count <= refusals)
            {
                var refused = new HttpResponseMessage(HttpStatusCode.TooManyRequests)
                {
                    RequestMessage = request,
                    Content = new StringContent(
                        """{"status":429,"title":"Too Many Requests"}""",
                        Encoding.UTF8,
                        "application/problem+json"),
                };
                refused.Headers.Add("Retry-After", "0");
                return refused;
            }

            return new HttpResponseMessage(HttpStatusCode.Created)
            {
                RequestMessage = request,
                Content = new StringContent("""{"id":"7","type":"CLIENT_PING"}""", Encoding.UTF8, "application/json"),
            };
        }
    }

    [Test]
    public async Task Post_WhenRefusedTwiceBeforeItPasses_SendsTheSameBodyOnEveryAttempt()
    {
        var server = new RefusingHandler(refusals: 2);
        using var client = new FormanovaClient(new Uri("http://127.0.0.1:9/"), "fnv_key-0123456789abcdef0123456789", server);

        var published = await client.V1.Events.PostAsync(
            new PublishEventRequest { Type = "CLIENT_PING", Source = "/tests/retry" });

        Assert.That(published!.Id, Is.EqualTo("7"));
        Assert.That(server.Bodies, Has.Count.EqualTo(3));
        Assert.That(server.Bodies[0], Does.Contain("CLIENT_PING"));
        Assert.That(server.Bodies, Is.All.EqualTo(server.Bodies[0]));
    }

    [Test]
    public void Post_WhenRefusedMoreOftenThanItRetries_ThrowsTheLast429()
    {
        var server = new RefusingHandler(refusals: 10);
        using var client = new FormanovaClient(
            new Uri("http://127.0.0.1:9/"),
            "fnv_key-0123456789abcdef0123456789",
            server,
            new FormanovaClientOptions { MaxRetries = 2 });

        var error = Assert.ThrowsAsync<FormanovaApiException>(
            () => client.V1.Events.PostAsync(new PublishEventRequest { Type = "CLIENT_PING", Source = "/tests/retry" }));

        Assert.That(error!.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(error.RetryAfter, Is.EqualTo(TimeSpan.Zero));
        Assert.That(server.Bodies, Has.Count.EqualTo(3), "the request and two retries");
    }
}
