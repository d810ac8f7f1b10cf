using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

/// <summary>
/// What the job endpoints keep track of: GET /jobs/{id} for every kind the listing shows, and batch jobs with
/// transforms, which leave no dataset behind and answer with the source rows' ids. On each storage provider.
/// </summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class JobBookkeepingTests(DatabaseProvider provider)
{
    private static readonly object[] Transforms =
    [
        new { op = "filter", expression = "tenure_months >= 36" },
        new { op = "fill", column = "monthly_charges", fill = "mean" },
    ];

    private readonly FaultyModelModule _faults = new();
    private TestDatabase? _database;
    private FormanovaFactory? _factory;
    private HttpClient _client = null!;
    private volatile bool _hang;

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        _database = await TestDatabase.CreateAsync(provider);
        _faults.Before = (op, _, _, ct) => op == "predictBatch" && _hang ? Task.Delay(Timeout.Infinite, ct) : Task.CompletedTask;
        _factory = new FormanovaFactory(
            _database.Settings.Concat(Settings()),
            services => services.Decorate<IModelModule>((inner, _) => _faults.Wrap(inner)));
        _client = await ClientAsync(_factory);
    }

    [OneTimeTearDown]
    public async Task OneTimeTearDown()
    {
        _client?.Dispose();
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    private async Task<string> StartAsync(string path, object body)
    {
        var response = await _client.PostAsJsonAsync(path, body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        return response.Headers.Location!.ToString();
    }

    private async Task<List<long>> DatasetIdsAsync() =>
        [.. (await _client.GetFromJsonAsync<JsonArray>("/api/v1/datasets", Json))!.Select(d => (long)d!["id"]!)];

    private static bool Closed(JsonObject view) => Status(view) is not ("running" or "paused");

    [Test]
    public async Task GetJob_ForEveryKindTheListShows_AnswersWithTheCommonFieldsAndTheKindsLocation()
    {
        var dataset = await WorkflowDatasets.ChurnAsync(_factory!.Services, 80);
        var kinds = new (string Type, string Listed, string Location)[]
        {
            ("job", "processing", await StartAsync("/api/v1/jobs", Body())),
            ("batch", "batch", await StartAsync("/api/v1/batch-jobs", new { model = DemoModel, datasetId = dataset, chunkSize = 40 })),
            ("training", "training", await StartAsync(
                "/api/v1/training-runs",
                new { model = "churn-jobs", version = "1.0.0", task = "binaryClassification", datasetId = dataset })),
            ("promotion", "promotion", await StartAsync($"/api/v1/models/{DemoModel}/versions/1.0.0/promote", new { })),
        };

        foreach (var (type, listed, location) in kinds)
        {
            var own = await PollAsync(_client, location, Closed, TimeSpan.FromSeconds(120), location);
            var id = location.Split('/')[^1];
            var job = await ReadAsync(await _client.GetAsync($"/api/v1/jobs/{id}"));
            var list = await ReadAsync(await _client.GetAsync($"/api/v1/jobs?type={listed}&pageSize=500"));
            var item = list["items"]!.AsArray().Single(i => (string?)i!["id"] == id)!;
            Assert.Multiple(() =>
            {
                Assert.That((string?)job["type"], Is.EqualTo(type), location);
                Assert.That(Status(job), Is.EqualTo(Status(own)).And.EqualTo("completed"), location);
                Assert.That((string?)job["location"], Is.EqualTo(location).And.EqualTo((string?)item["location"]), location);
                Assert.That((double?)job["progressPercent"], Is.EqualTo(100), location);
                Assert.That(job["startedAt"], Is.Not.Null, location);
                Assert.That(job["closedAt"], Is.Not.Null, location);
                Assert.That(job["result"], Is.Not.Null, location);
                Assert.That(job["errors"]!.AsArray(), Is.Empty, location);
            });
        }

        // The actions stay on each kind's own path; the answer says where that is.
        var training = kinds.Single(k => k.Type == "training").Location;
        var pause = await _client.PostAsync($"/api/v1/jobs/{training.Split('/')[^1]}/pause", null);
        Assert.That(pause.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((string?)(await ReadAsync(pause))["detail"], Does.Contain(training));
        Assert.That((await _client.GetAsync("/api/v1/jobs/no-such-job")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task BatchJobs_WithTransformsWhenCompleted_LeaveNoDatasetAndCarryTheSourceRowIds()
    {
        var dataset = await WorkflowDatasets.ChurnAsync(_factory!.Services, 150);
        var before = await DatasetIdsAsync();
        var page = await ReadAsync(await _client.GetAsync($"/api/v1/datasets/{dataset}/rows?limit=500"));
        var expected = page["rows"]!.AsArray()
            .Where(r => (double?)r!["values"]!["tenure_months"] >= 36)
            .Select(r => (long)r!["rowId"]!)
            .ToList();

        var location = await StartAsync(
            "/api/v1/batch-jobs",
            new { model = DemoModel, datasetId = dataset, chunkSize = 40, transforms = Transforms });
        var job = await PollAsync(_client, location, Closed, TimeSpan.FromSeconds(120));

        Assert.That(Status(job), Is.EqualTo("completed"), job.ToJsonString());
        var csv = (await _client.GetStringAsync($"{location}/results")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1);
        var ids = csv.Select(line => long.Parse(line.Split(',')[0], CultureInfo.InvariantCulture)).ToList();
        Assert.Multiple(async () =>
        {
            Assert.That(expected, Is.Not.Empty.And.Count.LessThan(150), "the filter keeps some rows");
            Assert.That(ids, Is.EqualTo(expected), "the source rows' ids, in row order");
            Assert.That((long?)job["result"]!["rows"], Is.EqualTo(expected.Count));
            Assert.That((long?)job["result"]!["sourceDatasetId"], Is.EqualTo(dataset));
            Assert.That(await DatasetIdsAsync(), Is.EqualTo(before), "no derived dataset");
        });
    }

    [Test]
    public async Task BatchJobs_WithTransformsWhenCancelled_LeaveNoDataset()
    {
        var dataset = await WorkflowDatasets.ChurnAsync(_factory!.Services, 100);
        var before = await DatasetIdsAsync();
        var calls = _faults.Calls("predictBatch");
        _hang = true;
        try
        {
            var location = await StartAsync(
                "/api/v1/batch-jobs",
                new { model = DemoModel, datasetId = dataset, chunkSize = 10, transforms = Transforms });
            await UntilAsync(
                () => Task.FromResult(_faults.Calls("predictBatch") > calls),
                TimeSpan.FromSeconds(60),
                "a chunk in flight");

            Assert.That((await _client.PostAsync($"{location}/cancel", null)).StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
            await PollAsync(_client, location, j => Status(j) == "cancelled");
        }
        finally
        {
            _hang = false;
        }

        Assert.That(await DatasetIdsAsync(), Is.EqualTo(before), "no derived dataset");
    }
}
