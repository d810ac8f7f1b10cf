using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using static Formanova.Tests.Data.Import.ColumnarFixtures;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

/// <summary><c>GET /batch-jobs/{id}/results?format=parquet</c> after a real batch workflow, next to the CSV it mirrors.</summary>
[Category("Integration")]
public sealed class BatchResultsParquetTests
{
    [Test]
    public async Task ExportBatchResults_WithFormatParquet_HoldsTheCsvRowsInRowOrder()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 60);
        var started = await client.PostAsJsonAsync("/api/v1/batch-jobs", new { model = DemoModel, datasetId = dataset, chunkSize = 25 });
        Assert.That(started.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await started.Content.ReadAsStringAsync());
        var location = started.Headers.Location!.ToString();
        var job = await PollAsync(client, location, j => Status(j) is "completed" or "failed", TimeSpan.FromSeconds(120));
        Assert.That(Status(job), Is.EqualTo("completed"), job.ToJsonString());

        var csv = (await client.GetStringAsync($"{location}/results")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToList();
        var response = await client.GetAsync($"{location}/results?format=parquet");
        var rows = await ReadParquetAsync(await response.Content.ReadAsByteArrayAsync());

        Assert.Multiple(() =>
        {
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/vnd.apache.parquet"));
            Assert.That(response.Content.Headers.ContentDisposition?.FileName?.Trim('"'), Does.EndWith(".parquet"));
            Assert.That(rows, Has.Count.EqualTo(60));
            Assert.That(
                rows.Select(r => (long)r["rowId"]!),
                Is.EqualTo(csv.Select(line => long.Parse(line.Split(',')[0], CultureInfo.InvariantCulture))));
            Assert.That(rows.Select(r => r["label"]), Is.EqualTo(csv.Select(line => line.Split(',')[1].Trim('"'))));
        });
    }
}
