using System.Net;
using System.Net.Http.Json;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

[Category("Integration")]
public sealed class BatchWorkflowTests
{
    private static async Task<string> StartAsync(HttpClient client, object body)
    {
        var response = await client.PostAsJsonAsync("/api/v1/batch-jobs", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        return response.Headers.Location!.ToString();
    }

    [Test]
    public async Task BatchJobs_WhenStarted_PredictEveryRowAcrossContinueAsNewAndExportInRowOrder()
    {
        var faults = new FaultyModelModule();
        using var factory = Factory(faults, ("Workflows:Batch:ChunksPerRun", "2"));
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 230);

        var location = await StartAsync(client, new { model = DemoModel, datasetId = dataset, chunkSize = 50, parallelism = 2 });

        var job = await PollAsync(client, location, j => Status(j) is "completed" or "failed", TimeSpan.FromSeconds(120));
        Assert.That(Status(job), Is.EqualTo("completed"), job.ToJsonString());
        Assert.Multiple(() =>
        {
            Assert.That((long?)job["result"]!["rows"], Is.EqualTo(230));
            Assert.That((int?)job["result"]!["chunks"], Is.EqualTo(5));
            Assert.That((int?)job["result"]!["runs"], Is.EqualTo(3), "two chunks per run: continued as new twice");
            Assert.That(faults.Calls("predictBatch"), Is.EqualTo(5));
            var timings = job["result"]!["timings"]!.AsObject().Select(t => (double)t.Value!).ToList();
            Assert.That(timings, Has.Count.EqualTo(4).And.All.GreaterThanOrEqualTo(0));
            Assert.That(timings, Is.EqualTo(timings.Select(t => Math.Round(t, 3))), "timings to the microsecond, not a sum's float noise");
        });

        var csv = (await client.GetStringAsync($"{location}/results")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(csv[0], Is.EqualTo("rowId,label,value,score,predictionId"));
        var ids = csv.Skip(1).Select(line => long.Parse(line.Split(',')[0], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.That(ids, Has.Count.EqualTo(230).And.Ordered.Ascending.And.Unique);
    }

    [Test]
    public async Task BatchJobs_WithAFilter_PredictOnlyTheMatchingRows()
    {
        using var factory = Factory();
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 200);
        var expected = SampleData.Rows(ModelTask.BinaryClassification, 200, 7).Count(r => (double)r[0]! >= 36);

        var location = await StartAsync(client, new
        {
            model = DemoModel,
            datasetId = dataset,
            chunkSize = 40,
            transforms = new[] { new { op = "filter", expression = "tenure_months >= 36" } },
        });

        var job = await PollAsync(client, location, j => Status(j) is "completed" or "failed", TimeSpan.FromSeconds(120));
        Assert.That(Status(job), Is.EqualTo("completed"), job.ToJsonString());
        Assert.That((long?)job["result"]!["rows"], Is.EqualTo(expected));
    }

    [Test]
    public async Task BatchJobs_WhenPausedAndResumed_StopStartingChunksUntilResumed()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var faults = new FaultyModelModule
        {
            Before = (op, _, count, ct) => op == "predictBatch" && count == 1 ? release.Task.WaitAsync(ct) : Task.CompletedTask
        };
        using var factory = Factory(faults);
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 100);
        var location = await StartAsync(client, new { model = DemoModel, datasetId = dataset, chunkSize = 25, parallelism = 1 });
        await WaitForCallsAsync(faults, 1);

        Assert.That((await client.PostAsync($"{location}/pause", null)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        await PollAsync(client, location, j => Status(j) == "paused");
        release.SetResult();
        var paused = await PollAsync(client, location, j => (int?)j["progress"]?["chunksDone"] == 1);
        Assert.That(Status(paused), Is.EqualTo("paused"));
        Assert.That(faults.Calls("predictBatch"), Is.EqualTo(1), "no chunk starts while paused");

        await client.PostAsync($"{location}/resume", null);
        var job = await PollAsync(client, location, j => Status(j) == "completed");
        Assert.That((long?)job["result"]!["rows"], Is.EqualTo(100));
    }

    [Test]
    public async Task BatchJobs_WhenCancelled_EndCancelled()
    {
        var faults = new FaultyModelModule
        {
            Before = (op, _, _, ct) => op == "predictBatch" ? Task.Delay(Timeout.Infinite, ct) : Task.CompletedTask
        };
        using var factory = Factory(faults);
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 50);
        var location = await StartAsync(client, new { model = DemoModel, datasetId = dataset, chunkSize = 25 });
        await WaitForCallsAsync(faults, 1);

        Assert.That((await client.PostAsync($"{location}/cancel", null)).StatusCode, Is.EqualTo(HttpStatusCode.Accepted));

        await PollAsync(client, location, j => Status(j) == "cancelled");
        var listed = await ReadAsync(await client.GetAsync("/api/v1/jobs?type=batch&status=cancelled"));
        Assert.That(
            listed["items"]!.AsArray().Select(i => (string?)i!["id"]),
            Does.Contain(location.Split('/')[^1]),
            "closed CANCELED in Temporal");
        Assert.That(
            listed["items"]!.AsArray().Select(i => (string?)i!["location"]),
            Does.Contain(location),
            "the listing points at the batch-jobs path");
    }

    [Test]
    public async Task BatchJobs_WhenTheHostCrashesMidBatch_ResumeOnRestartWithoutRepeatingCompletedChunks()
    {
        var crashed = false;
        var faults = new FaultyModelModule
        {
            // The fourth chunk hangs in the first host; the restarted host lets every chunk through.
            Before = (op, _, count, ct) => op == "predictBatch" && count == 4 && !crashed
                ? Task.Delay(Timeout.Infinite, ct)
                : Task.CompletedTask,
        };
        using var state = new PersistedState(("Workflows:Batch:ChunkTimeoutSeconds", "3"));
        string location;
        var first = state.Start(faults);
        try
        {
            var client = await ClientAsync(first);
            var dataset = await WorkflowDatasets.ChurnAsync(first.Services, 200);
            location = await StartAsync(client, new { model = DemoModel, datasetId = dataset, chunkSize = 25, parallelism = 1 });
            await WaitForCallsAsync(faults, 4);
        }
        finally
        {
            crashed = true;
            first.Dispose();
        }

        using var second = state.Start(faults);
        var restarted = second.CreateClient();
        var job = await PollAsync(restarted, location, j => Status(j) is "completed" or "failed", TimeSpan.FromSeconds(120));

        Assert.That(Status(job), Is.EqualTo("completed"), job.ToJsonString());
        Assert.That((long?)job["result"]!["rows"], Is.EqualTo(200));
        Assert.That(
            faults.Calls("predictBatch"),
            Is.EqualTo(8 + 1),
            "chunks 1–3 ran once, chunk 4 twice (it was in flight), chunks 5–8 once");
    }

    [Test]
    public async Task BatchJobs_WhenAChunkFailsAfterStoringItsPredictions_RetryItWithoutDuplicatingRows()
    {
        var faults = new FaultyModelModule();
        var failOnce = 1;
        using var factory = new FormanovaFactory(Settings(), services =>
        {
            services.Decorate<IModelModule>((inner, _) => faults.Wrap(inner));
            // The second chunk's rows are stored, then recording the chunk as succeeded fails once: the retry writes them again.
            services.Decorate<IDataModule>((inner, _) => FailingDataModule.Wrap(
                inner,
                r => r.Step == "chunk-000001" && r.Status == ResultStatus.Succeeded && Interlocked.Exchange(ref failOnce, 0) == 1));
        });
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 120);

        var location = await StartAsync(client, new { model = DemoModel, datasetId = dataset, chunkSize = 50, parallelism = 1 });

        var job = await PollAsync(client, location, j => Status(j) is "completed" or "failed", TimeSpan.FromSeconds(120));
        Assert.That(Status(job), Is.EqualTo("completed"), job.ToJsonString());
        var csv = (await client.GetStringAsync($"{location}/results")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var ids = csv.Skip(1).Select(line => long.Parse(line.Split(',')[0], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(failOnce, Is.Zero, "the injected failure happened");
            Assert.That(faults.Calls("predictBatch"), Is.EqualTo(3 + 1), "the second chunk was predicted twice");
            Assert.That((long?)job["result"]!["rows"], Is.EqualTo(120));
            Assert.That(ids, Has.Count.EqualTo(120).And.Ordered.Ascending.And.Unique);
        });
    }

    private static Task WaitForCallsAsync(FaultyModelModule faults, int calls) =>
        UntilAsync(() => Task.FromResult(faults.Calls("predictBatch") >= calls), TimeSpan.FromSeconds(60), $"{calls} batch predictions");
}
