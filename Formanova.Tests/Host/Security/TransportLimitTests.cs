using System.Net;
using System.Text;
using Formanova.Tests.Support;

namespace Formanova.Tests.Host.Security;

/// <summary>Limits that only Kestrel enforces, so the real host runs on a loopback port here.</summary>
[Category("Integration")]
public sealed class TransportLimitTests
{
    private FormanovaFactory _factory = null!;

    [OneTimeSetUp]
    public void Start()
    {
        _factory = new FormanovaFactory(
        [
            new("Api:MaxRequestBodyBytes", "2048"),
            new("Http:MinRequestBodyBytesPerSecond", "1000"),
            new("Http:RequestBodyGracePeriodSeconds", "2"),
        ]);
        _factory.UseKestrel(0);
        _factory.StartServer();
    }

    [OneTimeTearDown]
    public void Stop() => _factory.Dispose();

    [Test]
    public async Task Post_WhenBodyExceedsTheLimitThroughTheHost_Returns413()
    {
        using var client = _factory.CreateClient();
        var body = "{\"name\":\"" + new string('x', 5000) + "\",\"scopes\":[\"read\"]}";

        var response = await client.PostAsync("/api/v1/keys", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
    }

    [Test]
    public async Task Post_WhenBodyArrivesTooSlowly_Returns408()
    {
        using var client = _factory.CreateClient();
        var address = client.BaseAddress!;
        var body = Encoding.UTF8.GetBytes("{\"name\":\"" + new string('x', 1900) + "\",\"scopes\":[\"read\"]}");
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        var stream = tcp.GetStream();
        var head = $"POST /api/v1/keys HTTP/1.1\r\nHost: {address.Authority}\r\nAuthorization: Bearer {FormanovaFactory.AdminKey}\r\n"
            + $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));

        // 20 bytes every 200 ms is 100 B/s, a tenth of the configured minimum.
        var sent = 0;
        try
        {
            while (sent < body.Length && !stream.DataAvailable)
            {
                var n = Math.Min(20, body.Length - sent);
                await stream.WriteAsync(body.AsMemory(sent, n));
                sent += n;
                await Task.Delay(200);
            }
        }
        catch (IOException)
        {
            // The server may reset the connection after answering.
        }

        using var reader = new StreamReader(stream, Encoding.ASCII);
        var statusLine = await reader.ReadLineAsync();
        Assert.That(statusLine, Does.StartWith("HTTP/1.1 408"));
        Assert.That(sent, Is.LessThan(body.Length), "the server answered before the upload finished");
    }
}
