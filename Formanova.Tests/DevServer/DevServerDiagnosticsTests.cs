using Formanova.DevServer;
using Formanova.Tests.Support;
using Microsoft.Extensions.Logging;
using Temporalio.Client;

namespace Formanova.Tests.DevServer;

[Category("Integration")]
public sealed class DevServerDiagnosticsTests
{
    [Test]
    public async Task StartAsync_WithTheOwnersLoggerFactory_LogsThroughItUnderTheServersCategoriesAndLeavesItUndisposed()
    {
        var capture = new LogCapture();
        using var owner = LoggerFactory.Create(logging => logging.AddProvider(capture).SetMinimumLevel(LogLevel.Debug));
        await using (var host = new DevServerHost())
        {
            var address = await host.StartAsync(new DevServerOptions { Port = 0, LoggerFactory = owner });
            var client = await TemporalClient.ConnectAsync(new(address));
            await client.WorkflowService.DescribeNamespaceAsync(new() { Namespace = "default" });
        }

        var categories = capture.Entries.Select(e => e.Category).Distinct().ToList();
        Assert.Multiple(() =>
        {
            Assert.That(categories, Does.Contain("Formanova.DevServer.Grpc.WorkflowServiceEndpoint"), "the server's own lines");
            Assert.That(categories, Does.Contain("Formanova.DevServer.Microsoft.Hosting.Lifetime"), "the framework's, prefixed");
            Assert.That(categories, Is.All.StartsWith(DevServerDiagnostics.Prefix));
            Assert.That(categories, Has.None.Contain("Hosting.Diagnostics"), "the category that would start an Activity per RPC stays off");
            Assert.That(() => owner.CreateLogger("after"), Throws.Nothing, "the owner's factory outlives the server");
        });
    }
}
