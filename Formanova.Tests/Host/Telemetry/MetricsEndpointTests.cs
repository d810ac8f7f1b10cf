using System.Net;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

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

[Category("Integration")]
public sealed class ModelMetricsExportTests
{
    [Test]
    public async Task Metrics_AfterPredictions_ExposeTheSeedModelMetricsUnderTheirContractNames()
    {
        using var factory = new FormanovaFactory([new("Model:Bootstrap:Rows", "1000")]);
        using var client = factory.CreateClient();
        await factory.Services.GetRequiredService<Formanova.Modules.Model.ModelBootstrapper>().Completed;
        var body = System.Text.Json.JsonSerializer.Serialize(new { inputs = Formanova.Tests.Model.ModelTestKit.Input(1) });
        for (var i = 0; i < 2; i++)
        {
            var response = await client.PostAsync(
                "/api/v1/models/demo-churn/predict",
                new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        }

        var text = await client.GetStringAsync("/metrics");

        Assert.Multiple(() =>
        {
            Assert.That(text, Does.Match("formanova_model_inferences_total\\{[^}]*model=\"demo-churn\"[^}]*outcome=\"success\"[^}]*\\} 2"));
            Assert.That(text, Does.Match("formanova_model_inference_duration_seconds_bucket\\{[^}]*le=\"1\"[^}]*\\} 2"));
            Assert.That(text, Does.Contain("formanova_model_inference_in_flight"));
            Assert.That(text, Does.Match("formanova_cache_lookups_total\\{[^}]*outcome=\"hit\"[^}]*\\} [1-9]"));
        });
    }
}
