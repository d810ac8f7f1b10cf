using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Formanova.Modules.Data;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static Formanova.Tests.Data.DataTestSupport;

namespace Formanova.Tests.Data.Api;

[Category("Integration")]
public sealed class ResultEndpointsTests
{
    [Test]
    public async Task GetResults_WhenFilteredByJobModelAndTime_ReturnsThePage()
    {
        await using var factory = new FormanovaFactory();
        using var client = factory.CreateClient();
        var data = factory.Services.GetRequiredService<IDataModule>();
        var t0 = new DateTimeOffset(2026, 11, 2, 8, 0, 0, TimeSpan.Zero);
        await data.RecordResultAsync(new RecordResultRequest(
            "job-a",
            "predict",
            ResultStatus.Succeeded,
            t0,
            t0.AddSeconds(1),
            ModelName: "churn",
            ModelVersion: "1",
            Output: JsonSerializer.SerializeToElement(new { y = 1 })));
        await data.RecordResultAsync(
            new RecordResultRequest("job-b", "predict", ResultStatus.Failed, t0.AddHours(1), Error: "timeout", ModelName: "fraud"));

        var byJob = await client.GetFromJsonAsync<ResultPage>("/api/v1/results?jobId=job-a", Json);
        var byModel = await client.GetFromJsonAsync<ResultPage>("/api/v1/results?model=fraud", Json);
        var byTime = await client.GetFromJsonAsync<ResultPage>(
            $"/api/v1/results?from={Uri.EscapeDataString(t0.AddMinutes(30).ToString("O"))}",
            Json);
        var badLimit = await client.GetAsync("/api/v1/results?limit=0");
        var badRange = await client.GetAsync($"/api/v1/results?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z");

        Assert.Multiple(() =>
        {
            Assert.That(byJob!.Items.Single().Output!.Value.GetProperty("y").GetInt32(), Is.EqualTo(1));
            Assert.That(byModel!.Items.Single().Error, Is.EqualTo("timeout"));
            Assert.That(byTime!.Items.Select(r => r.JobId), Is.EqualTo(new[] { "job-b" }));
            Assert.That(badLimit.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(badRange.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        });
    }

    [Test]
    public async Task OpenApiDocument_WhenDataEndpointsAreMapped_DescribesEachOfThem()
    {
        await using var factory = new FormanovaFactory();
        using var client = factory.CreateClient();

        var document = await client.GetStringAsync("/openapi/v1.json");

        Assert.That(
            document,
            Does.Contain("/api/v1/datasets/{id}/rows").And.Contain("/api/v1/datasets/infer-schema").And.Contain("/api/v1/results"));
    }
}
