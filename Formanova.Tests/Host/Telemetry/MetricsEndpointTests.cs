using System.Net;
using Formanova.Tests.Support;

namespace Formanova.Tests.Host.Telemetry;

[Category("Integration")]
public sealed class MetricsEndpointTests
{
    [Test]
    public async Task Metrics_AfterARequest_ExposesHttpRuntimeProcessAndSystemMetricsForPrometheus()
    {
        using var factory = new FormanovaFactory();
        using var client = factory.CreateClient();
        await client.GetAsync("/api/v1/does-not-exist");

        var response = await client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/plain"));
            Assert.That(text, Does.Contain("http_server_request_duration_seconds_count{"));
            Assert.That(text, Does.Contain("http_response_status_code=\"404\""));
            Assert.That(text, Does.Contain("process_cpu_time_seconds_total"));
            Assert.That(text, Does.Contain("dotnet_gc_collections_total").Or.Contain("dotnet_process_memory_working_set_bytes"));
            Assert.That(text, Does.Contain("formanova_system_disk_free_bytes"));
        });
    }
}
