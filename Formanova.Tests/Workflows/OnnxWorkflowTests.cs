using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Model.Onnx;
using Formanova.Tests.Support;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

/// <summary>
/// An ONNX version (<see cref="HandBuiltModels.Binary"/> over the churn sample's tenure and monthly charges) served
/// through every path an ML.NET version is: <c>/predictions</c>, a job, a batch job over a dataset, the fallback
/// when the active version fails, the L1 cache, and the prediction metrics, each giving what its weights give.
/// </summary>
[Category("Integration")]
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed partial class OnnxWorkflowTests(DatabaseProvider provider)
{
    private const string Model = "onnx-churn";
    private const string First = "tenure_months";
    private const string Second = "monthly_charges";
    private const int Rows = 120;
    private const int Seed = 7;
    private const double Tolerance = 1e-5;

    private HostedDatabase _host = null!;
    private long _dataset;

    private HttpClient Client => _host.Client;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await HostedDatabase.StartAsync(
            provider,
            Settings(("Model:Bootstrap:Enabled", "false"), ("Workflows:Retry:MaximumAttempts", "2")));
        _dataset = await WorkflowDatasets.ChurnAsync(_host.Factory.Services, Rows, Seed);
        await RegisterAsync(Model, "1.0.0", HandBuiltModels.BinaryBias, activate: true);
    }

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [Test]
    public async Task ScoringPaths_WithAnActiveOnnxVersion_GiveTheProbabilityOfItsWeights()
    {
        var input = ValidInput();
        var (tenure, monthly) = ((double)input[First]!, (double)input[Second]!);
        var probability = HandBuiltModels.BinaryProbability(tenure, monthly);
        object parameters = new { roundDigits = 15, useCache = false };

        var synchronous = await ReadAsync(await OkAsync(
            await Client.PostAsJsonAsync("/api/v1/predictions", new { model = Model, inputs = input, @params = parameters })));
        var submitted = await Client.PostAsJsonAsync("/api/v1/jobs", new { model = Model, inputs = input, @params = parameters });
        Assert.That(submitted.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await submitted.Content.ReadAsStringAsync());
        var job = await PollAsync(Client, submitted.Headers.Location!.ToString(), j => Status(j) is "completed" or "failed");

        Assert.Multiple(() =>
        {
            foreach (var (path, result) in new[] { ("/predictions", synchronous), ("/jobs", job["result"]!.AsObject()) })
            {
                Assert.That((string?)result["version"], Is.EqualTo("1.0.0"), path);
                Assert.That((double?)result["probabilities"]!["true"], Is.EqualTo(probability).Within(Tolerance), path);
                Assert.That((double?)result["score"], Is.EqualTo(HandBuiltModels.BinaryLogit(tenure, monthly)).Within(Tolerance), path);
                Assert.That((string?)result["decision"], Is.EqualTo(probability >= 0.5 ? "positive" : "negative"), path);
                Assert.That(result["ignoredColumns"]!.AsArray().Select(n => (string?)n), Does.Contain("contract"), path);
            }

            Assert.That(Status(job), Is.EqualTo("completed"), job.ToJsonString());
        });
    }

    [Test]
    public async Task BatchJob_OverADatasetWithAnOnnxVersion_ScoresEveryRowAsItsWeightsDo()
    {
        var started = await Client.PostAsJsonAsync("/api/v1/batch-jobs", new { model = Model, datasetId = _dataset, chunkSize = 50 });
        Assert.That(started.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await started.Content.ReadAsStringAsync());
        var location = started.Headers.Location!.ToString();
        var job = await PollAsync(Client, location, j => Status(j) is "completed" or "failed", TimeSpan.FromSeconds(120));
        Assert.That(Status(job), Is.EqualTo("completed"), job.ToJsonString());

        // The dataset's rows in import order, which is row-id order; the CSV export keeps it.
        var expected = SampleData.Rows(ModelTask.BinaryClassification, Rows, Seed)
            .Select(r => HandBuiltModels.BinaryLogit((double)r[0]!, (double)r[1]!))
            .ToList();
        var stored = (await Client.GetStringAsync($"{location}/results")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Skip(1)
            .Select(line => line.Split(','))
            .ToList();
        Assert.Multiple(() =>
        {
            Assert.That((long?)job["result"]!["rows"], Is.EqualTo(Rows));
            Assert.That(stored.Select(f => double.Parse(f[3], CultureInfo.InvariantCulture)), Is.EqualTo(expected).Within(Tolerance));
            Assert.That(stored.Select(f => f[1].Trim('"')), Is.EqualTo(expected.Select(l => l > 0 ? "true" : "false")));
        });
    }

    [Test]
    public async Task Predictions_WhenTheActiveOnnxVersionCannotLoad_FallBackToThePreviousOnnxVersionAndMarkItFailed()
    {
        const string name = "onnx-fallback";
        const float previousBias = -1.5f;
        await RegisterAsync(name, "1.0.0", previousBias, activate: true);
        var failing = await RegisterAsync(name, "1.1.0", 2.5f, activate: true);
        Corrupt(name, "1.1.0", (string)failing["sha256"]!);
        var input = ValidInput();
        var logit = HandBuiltModels.BinaryLogit((double)input[First]!, (double)input[Second]!, previousBias);

        var direct = await ReadAsync(await OkAsync(
            await Client.PostAsJsonAsync($"/api/v1/models/{name}/predict", new { inputs = input, useCache = false })));
        var processed = await ReadAsync(await OkAsync(await Client.PostAsJsonAsync(
            "/api/v1/predictions",
            new { model = name, inputs = input, @params = new { roundDigits = 15, useCache = false } })));
        var model = await ReadAsync(await OkAsync(await Client.GetAsync($"/api/v1/models/{name}")));

        Assert.Multiple(() =>
        {
            foreach (var (path, result) in new[] { ("predict", direct), ("/predictions", processed) })
            {
                Assert.That((string?)result["version"], Is.EqualTo("1.0.0"), path);
                Assert.That((string?)result["fallbackFrom"], Is.EqualTo("1.1.0"), path);
                Assert.That((double?)result["score"], Is.EqualTo(logit).Within(Tolerance), $"{path}: the previous version's weights");
            }

            Assert.That((string?)model["activeVersion"], Is.EqualTo("1.0.0"), "the workflow's fallback activated the previous version");
            Assert.That(
                (string?)model["versions"]!.AsArray().Single(v => (string?)v!["version"] == "1.1.0")!["status"],
                Is.EqualTo("failed"));
        });
    }

    [Test]
    public async Task Predict_WhenAnOnnxPredictionIsRepeated_AnswersFromTheL1CacheAndTheMetricsCarryTheVersion()
    {
        var input = ValidInput();
        input[First] = 41.0;
        var before = await Client.GetStringAsync("/metrics");

        var first = await ReadAsync(await OkAsync(await Client.PostAsJsonAsync($"/api/v1/models/{Model}/predict", new { inputs = input })));
        var again = await ReadAsync(await OkAsync(await Client.PostAsJsonAsync($"/api/v1/models/{Model}/predict", new { inputs = input })));
        // The exporter serves a scrape from its cache for a moment: read again until the repeat shows.
        var after = before;
        string[] repeat = [$"model=\"{Model}\"", "version=\"1.0.0\"", "cached=\"true\""];
        await UntilAsync(
            async () => Sample(after = await Client.GetStringAsync("/metrics"), "formanova_model_predictions_total", repeat) > 0,
            TimeSpan.FromSeconds(10),
            "a scrape that counts the repeated prediction");

        double Delta(string metric, params string[] labels) => Sample(after, metric, labels) - Sample(before, metric, labels);
        Assert.Multiple(() =>
        {
            Assert.That(((bool?)first["cached"], (bool?)again["cached"]), Is.EqualTo((false, true)));
            Assert.That((double?)again["score"], Is.EqualTo((double?)first["score"]));
            Assert.That(Delta("formanova_cache_lookups_total", "area=\"model\"", "level=\"l1\"", "outcome=\"hit\""), Is.EqualTo(1));
            Assert.That(
                Delta("formanova_model_predictions_total", $"model=\"{Model}\"", "version=\"1.0.0\"", "cached=\"false\""),
                Is.EqualTo(1));
            Assert.That(
                Delta("formanova_model_predictions_total", $"model=\"{Model}\"", "version=\"1.0.0\"", "cached=\"true\""),
                Is.EqualTo(1));
            Assert.That(
                Delta("formanova_model_inferences_total", $"model=\"{Model}\"", "version=\"1.0.0\"", "outcome=\"success\""),
                Is.EqualTo(2));
        });
    }

    /// <summary>Uploads <see cref="HandBuiltModels.Binary"/> over the two churn columns with <paramref name="bias"/>.</summary>
    private async Task<JsonObject> RegisterAsync(string name, string version, float bias, bool activate)
    {
        var registered = await OnnxUploads.RegisterAsync(Client, name, HandBuiltModels.Binary(First, Second, bias), new
        {
            version,
            task = "binaryClassification",
            columns = HandBuiltModels.BinaryColumnsOf(First, Second),
            signature = HandBuiltModels.BinarySignatureOf(First, Second),
        });
        if (activate)
        {
            await OkAsync(await Client.PostAsync($"/api/v1/models/{name}/versions/{version}/activate", null));
        }

        return registered;
    }

    /// <summary>
    /// Overwrites the version's artifact (the file with its registered SHA-256) so that it fails its checksum, and drops
    /// the copy activation preloaded, so the next request loads the bad file (as after an eviction or on another instance).
    /// </summary>
    private void Corrupt(string name, string version, string sha256)
    {
        var folder = Path.Combine(_host.Database.DataDirectory, "models", name, version);
        var artifact = Directory.EnumerateFiles(folder)
            .Single(f => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f))) == sha256);
        File.WriteAllBytes(artifact, [1, 2, 3]);
        Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<Formanova.Modules.Model.Inference.ModelRuntime>(_host.Factory.Services)
            .Unload(name, version);
    }

    private static async Task<HttpResponseMessage> OkAsync(HttpResponseMessage response)
    {
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return response;
    }

    /// <summary>The sum of a Prometheus metric's samples whose labels include every one of <paramref name="labels"/>.</summary>
    private static double Sample(string exposition, string metric, string[] labels) =>
        SampleLine().Matches(exposition)
            .Where(m => m.Groups["name"].Value == metric && labels.All(l => m.Groups["labels"].Value.Contains(l, StringComparison.Ordinal)))
            .Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));

    [GeneratedRegex(@"^(?<name>[a-z_]+)\{(?<labels>[^}]*)\} (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex SampleLine();
}
