using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Formanova.Tests.Support.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

/// <summary>
/// One model trained through the real training workflow on <see cref="WeatherTable"/> with a cast, a mean fill, a derived
/// column, a rename and a filter, then scored through all five paths with the raw training rows as they are: the label,
/// the date column, the text that training cast and the ignored note included.
/// </summary>
[Category("Integration")]
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class InputContractTests(DatabaseProvider provider)
{
    private const string Model = "weather-contract";
    private const int Sent = 6;

    private HostedDatabase _host = null!;
    private long _dataset;
    private List<Dictionary<string, object?>> _rows = null!;

    private HttpClient Client => _host.Client;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await HostedDatabase.StartAsync(provider, Settings());
        var data = _host.Factory.Services.GetRequiredService<IDataModule>();
        _rows = WeatherTable.Rows(300);
        var dataset = await data.CreateDatasetAsync(new CreateDatasetRequest($"weather-{Guid.NewGuid():N}", WeatherTable.Columns));
        using (var csv = new MemoryStream(Encoding.UTF8.GetBytes(WeatherTable.Csv(_rows))))
        {
            var report = await data.ImportRowsAsync(dataset.Id, csv, new ImportOptions(ImportFormat.Csv));
            Assert.That(report.RowsAccepted, Is.EqualTo(_rows.Count), string.Join("; ", report.Errors.Select(e => e.Message)));
        }

        _dataset = dataset.Id;
        var started = await Client.PostAsJsonAsync("/api/v1/training-runs", new
        {
            model = Model,
            version = "1.0.0",
            task = "multiclassClassification",
            datasetId = _dataset,
            activate = true,
            transforms = new object[]
            {
                new { op = "cast", column = "precip", type = "numeric" },
                new { op = "fill", column = "wind", fill = "mean" },
                new { op = "derive", newName = "temp_range", expression = "temp_max - temp_min" },
                new { op = "rename", column = "station", newName = "site" },
                new { op = "filter", expression = "temp_max > -60" },
            },
        });
        Assert.That(started.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await started.Content.ReadAsStringAsync());
        var run = await PollAsync(
            Client,
            started.Headers.Location!.ToString(),
            r => Status(r) is "completed" or "failed",
            TimeSpan.FromSeconds(180));
        Assert.That(Status(run), Is.EqualTo("completed"), run.ToJsonString());
    }

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [Test]
    public async Task ScoringPaths_WhenSentTheRawTrainingRows_GiveEqualPredictions()
    {
        var rows = _rows.Take(Sent).ToList();
        var direct = new List<(string? Label, double? Score)>();
        foreach (var row in rows)
        {
            var body = await OkAsync(
                await Client.PostAsJsonAsync($"/api/v1/models/{Model}/predict", new { inputs = row, useCache = false }));
            direct.Add(((string?)body["label"], (double?)body["score"]));
        }

        var batch = await OkAsync(await Client.PostAsJsonAsync($"/api/v1/models/{Model}/predict/batch", new { rows, useCache = false }));
        var predictions = new List<(string? Label, double? Score)>();
        var jobs = new List<(string? Label, double? Score)>();
        foreach (var row in rows)
        {
            var output = await OkAsync(await Client.PostAsJsonAsync("/api/v1/predictions", new { model = Model, inputs = row }));
            predictions.Add(((string?)output["label"], (double?)output["score"]));
            var submitted = await Client.PostAsJsonAsync("/api/v1/jobs", new { model = Model, inputs = row });
            Assert.That(submitted.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await submitted.Content.ReadAsStringAsync());
            var job = await PollAsync(Client, submitted.Headers.Location!.ToString(), j => Status(j) is "completed" or "failed");
            Assert.That(Status(job), Is.EqualTo("completed"), job.ToJsonString());
            jobs.Add(((string?)job["result"]!["label"], (double?)job["result"]!["score"]));
        }

        var location = await RunBatchJobAsync();
        // Labels are quoted in the CSV export.
        var stored = (await Client.GetStringAsync($"{location}/results")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Skip(1)
            .Take(Sent)
            .Select(line => line.Split(','))
            .Select(f => (Label: f[1].Trim('"'), Score: f[3].Length == 0 ? (double?)null : Parse(f[3])))
            .ToList();

        var batched = batch["predictions"]!.AsArray().Select(p => ((string?)p!["label"], (double?)p["score"])).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(direct.Select(d => d.Label), Is.All.Not.Null);
            Assert.That(batched, Is.EqualTo(direct), "predict/batch");
            Assert.That(predictions.Select(p => p.Label), Is.EqualTo(direct.Select(d => d.Label)), "/predictions");
            Assert.That(jobs.Select(p => p.Label), Is.EqualTo(direct.Select(d => d.Label)), "/jobs");
            Assert.That(stored.Select(p => p.Label), Is.EqualTo(direct.Select(d => d.Label)), "/batch-jobs");
            for (var i = 0; i < Sent; i++)
            {
                Assert.That(predictions[i].Score, Is.EqualTo(direct[i].Score).Within(1e-4), $"/predictions score of row {i}");
                Assert.That(jobs[i].Score, Is.EqualTo(direct[i].Score).Within(1e-4), $"/jobs score of row {i}");
                Assert.That(stored[i].Score, Is.EqualTo(direct[i].Score).Within(1e-4), $"/batch-jobs score of row {i}");
            }
        });
    }

    [Test]
    public async Task ScoringPaths_WhenTheRowCarriesTheLabelAndUnusedColumns_ListThemOnceAsIgnored()
    {
        var row = new Dictionary<string, object?>(_rows[0]) { ["comment"] = "not a column" };

        var direct = await OkAsync(await Client.PostAsJsonAsync($"/api/v1/models/{Model}/predict", new { inputs = row }));
        var batch = await OkAsync(await Client.PostAsJsonAsync($"/api/v1/models/{Model}/predict/batch", new { rows = new[] { row, row } }));
        var processed = await OkAsync(await Client.PostAsJsonAsync("/api/v1/predictions", new { model = Model, inputs = row }));
        var batchJob = await OkAsync(await Client.GetAsync(await RunBatchJobAsync()));

        string[] expected = ["note", "weather", "comment"];
        Assert.Multiple(() =>
        {
            Assert.That(Names(direct["ignoredColumns"]), Is.EquivalentTo(expected));
            Assert.That(Names(batch["ignoredColumns"]), Is.EquivalentTo(expected), "listed once for the batch");
            Assert.That(Names(processed["ignoredColumns"]), Is.EquivalentTo(expected));
            Assert.That(Names(batchJob["result"]!["ignoredColumns"]), Is.EqualTo(new[] { "note", "weather" }), "once per job");
        });
    }

    [Test]
    public async Task ScoringPaths_InStrictMode_Return400NamingTheUnusedColumn()
    {
        var row = _rows[0];
        var batchJobs = await BatchJobCountAsync();

        var responses = new[]
        {
            await Client.PostAsJsonAsync($"/api/v1/models/{Model}/predict", new { inputs = row, strict = true }),
            await Client.PostAsJsonAsync($"/api/v1/models/{Model}/predict/batch", new { rows = new[] { row }, strict = true }),
            await Client.PostAsJsonAsync("/api/v1/predictions", new { model = Model, inputs = row, strict = true }),
            await Client.PostAsJsonAsync("/api/v1/jobs", new { model = Model, inputs = row, strict = true }),
            await Client.PostAsJsonAsync("/api/v1/batch-jobs", new { model = Model, datasetId = _dataset, strict = true }),
        };

        // A batch job names the dataset's column by its position, as the positional path does.
        var weather = WeatherTable.Columns.Select(c => c.Name).ToList().IndexOf("weather");
        string[] fields = ["inputs.weather", "rows[0].weather", "inputs.weather", "inputs.weather", $"columns[{weather}]"];
        for (var i = 0; i < responses.Length; i++)
        {
            Assert.That(responses[i].StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await responses[i].Content.ReadAsStringAsync());
            Assert.That((await ReadAsync(responses[i]))["errors"]!.AsObject().Select(kv => kv.Key), Does.Contain(fields[i]));
        }

        Assert.That(await BatchJobCountAsync(), Is.EqualTo(batchJobs), "the refused batch job started no run");
    }

    [Test]
    public async Task ScoringPaths_WhenARawInputIsMissing_Return400NamingIt()
    {
        var row = new Dictionary<string, object?>(_rows[0]);
        row.Remove("precip");
        var batchJobs = await BatchJobCountAsync();

        var responses = new[]
        {
            await Client.PostAsJsonAsync($"/api/v1/models/{Model}/predict", new { inputs = row }),
            await Client.PostAsJsonAsync($"/api/v1/models/{Model}/predict/batch", new { rows = new[] { row } }),
            await Client.PostAsJsonAsync("/api/v1/predictions", new { model = Model, inputs = row }),
            await Client.PostAsJsonAsync("/api/v1/jobs", new { model = Model, inputs = row }),
            await Client.PostAsJsonAsync("/api/v1/batch-jobs", new
            {
                model = Model,
                datasetId = _dataset,
                transforms = new[] { new { op = "rename", column = "precip", newName = "rain" } },
            }),
        };

        string[] fields = ["inputs.precip", "rows[0].precip", "inputs.precip", "inputs.precip", "columns.precip"];
        for (var i = 0; i < responses.Length; i++)
        {
            Assert.That(responses[i].StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await responses[i].Content.ReadAsStringAsync());
            Assert.That((await ReadAsync(responses[i]))["errors"]!.AsObject().Select(kv => kv.Key), Is.EquivalentTo(new[] { fields[i] }));
        }

        Assert.That(await BatchJobCountAsync(), Is.EqualTo(batchJobs), "the refused batch job started no run");
    }

    [Test]
    public async Task Training_WhenTheDatasetHasADateColumn_MakesDatePartFeaturesAndRecordsThemWithTheContract()
    {
        var version = await OkAsync(await Client.GetAsync($"/api/v1/models/{Model}/versions/1.0.0"));

        var derived = version["contract"]!["derivedFeatures"]!.AsArray().Select(d => (string?)d!["name"]).ToList();
        var columns = version["columns"]!.AsArray().Select(c => (string?)c!["name"]).ToList();
        var steps = version["contract"]!["steps"]!.AsArray().Select(s => (string?)s!["op"]).ToList();
        var fill = version["contract"]!["steps"]!.AsArray().Single(s => (string?)s!["op"] == "fill")!;
        Assert.Multiple(() =>
        {
            Assert.That(
                derived,
                Is.EqualTo(new[] { "date.year", "date.month", "date.day", "date.dayOfWeek", "date.dayOfYear", "date.hour" }));
            Assert.That(columns, Is.SupersetOf(derived).And.Contains("temp_range").And.Contains("site").And.Not.Contains("date"));
            Assert.That(steps, Is.EqualTo(new[] { "cast", "fill", "derive", "rename", "filter" }));
            Assert.That((double?)fill["value"], Is.GreaterThan(0), "the mean fill is frozen as the constant training computed");
        });
    }

    [Test]
    public async Task Predict_WhenTheVersionHasNoStoredContract_TakesItsFeatureColumnsAndIgnoresTheRest()
    {
        await UntilAsync(
            async () => (await Client.GetAsync($"/api/v1/models/{DemoModel}/versions/1.0.0")).IsSuccessStatusCode,
            TimeSpan.FromSeconds(90),
            "the demo model");
        var input = ValidInput();
        input["churned"] = true;

        var version = await OkAsync(await Client.GetAsync($"/api/v1/models/{DemoModel}/versions/1.0.0"));
        var response = await OkAsync(await Client.PostAsJsonAsync(
            $"/api/v1/models/{DemoModel}/predict",
            new { inputs = input, version = "1.0.0" }));

        Assert.Multiple(() =>
        {
            Assert.That(version["contract"], Is.Null, "registered without a contract");
            Assert.That((string?)response["label"], Is.Not.Null);
            Assert.That(Names(response["ignoredColumns"]), Is.EqualTo(new[] { "churned" }));
        });
    }

    /// <summary>A batch job over the training dataset as it is, run to completion; its location.</summary>
    private async Task<string> RunBatchJobAsync()
    {
        var batchJob = await Client.PostAsJsonAsync("/api/v1/batch-jobs", new { model = Model, datasetId = _dataset, chunkSize = 100 });
        Assert.That(batchJob.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await batchJob.Content.ReadAsStringAsync());
        var location = batchJob.Headers.Location!.ToString();
        var finished = await PollAsync(Client, location, j => Status(j) is "completed" or "failed", TimeSpan.FromSeconds(120));
        Assert.That(Status(finished), Is.EqualTo("completed"), finished.ToJsonString());
        return location;
    }

    private async Task<int> BatchJobCountAsync() =>
        (await OkAsync(await Client.GetAsync("/api/v1/jobs?type=batch&pageSize=500")))["items"]!.AsArray().Count;

    private static async Task<JsonObject> OkAsync(HttpResponseMessage response)
    {
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await ReadAsync(response);
    }

    private static double Parse(string number) => double.Parse(number, CultureInfo.InvariantCulture);

    private static List<string?> Names(JsonNode? node) => [.. node!.AsArray().Select(n => (string?)n)];
}
