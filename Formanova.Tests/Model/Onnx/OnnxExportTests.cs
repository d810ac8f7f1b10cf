using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Onnx;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Model.Onnx;

/// <summary>
/// <c>GET /models/{name}/versions/{v}/onnx</c> on the real host: versions trained through <c>POST /training-runs</c> on
/// the sample customer table (the text column left out, except for the model that must refuse), exported, uploaded
/// back as ONNX versions with nothing but a version number, and compared with the original on 1,000 other rows.
/// </summary>
[Category("Integration")]
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class OnnxExportTests(DatabaseProvider provider)
{
    /// <summary>The tolerance docs/model.md states: |onnx - mlnet| at most this much plus this much times |mlnet|.</summary>
    private const double Tolerance = 1e-4;

    private const int ComparedRows = 1000;

    private static readonly (string Model, ModelTask Task, string Trainer)[] Trained =
    [
        ("onnx-churn", ModelTask.BinaryClassification, "FastTree"),
        ("onnx-segment", ModelTask.MulticlassClassification, "SdcaMaximumEntropy"),
        ("onnx-value", ModelTask.Regression, "LightGbm"),
    ];

    private HostedDatabase _host = null!;

    private HttpClient Client => _host.Client;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await HostedDatabase.StartAsync(provider, Settings(("Model:Bootstrap:Enabled", "false")));
        var runs = new List<string>();
        foreach (var (model, task, trainer) in Trained)
        {
            runs.Add(await StartTrainingAsync(model, task, trainer, await CreateDatasetAsync(task), exclude: "feedback"));
        }

        runs.Add(await StartTrainingAsync(
            "onnx-text",
            ModelTask.BinaryClassification,
            "FastTree",
            await CreateDatasetAsync(ModelTask.BinaryClassification),
            exclude: null));
        foreach (var run in runs)
        {
            var done = await PollAsync(Client, run, r => Status(r) is "completed" or "failed", TimeSpan.FromSeconds(180));
            Assert.That(Status(done), Is.EqualTo("completed"), done.ToJsonString());
        }
    }

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [Test]
    public async Task ExportOnnx_OfAnMlnetVersion_IsAnOnnxFileCarryingTheVersionsMetadata()
    {
        var response = await Client.GetAsync("/api/v1/models/onnx-churn/versions/1.0.0/onnx");
        var version = await OkAsync(await Client.GetAsync("/api/v1/models/onnx-churn/versions/1.0.0"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var graph = global::Onnx.ModelProto.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync());
        var metadata = graph.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        var signature = JsonNode.Parse(metadata[OnnxMetadataKeys.Signature])!;
        Assert.Multiple(() =>
        {
            Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("application/octet-stream"));
            Assert.That(response.Content.Headers.ContentDisposition!.FileName, Is.EqualTo("onnx-churn-1.0.0.onnx"));
            Assert.That(graph.Graph.Input.Select(i => i.Name), Does.Not.Contain("churned").And.Not.Contain("Label"));
            Assert.That(metadata[OnnxMetadataKeys.Task], Is.EqualTo("binaryClassification"));
            Assert.That(metadata[OnnxMetadataKeys.Source], Is.EqualTo("onnx-churn@1.0.0"));
            Assert.That(JsonNode.Parse(metadata[OnnxMetadataKeys.Columns])!.ToJsonString(), Is.EqualTo(version["columns"]!.ToJsonString()));
            Assert.That(JsonNode.Parse(metadata[OnnxMetadataKeys.InputContract]), Is.Not.Null);
            Assert.That(
                signature["inputs"]!.AsArray().Select(i => (string?)i!["name"]),
                Is.EqualTo(version["columns"]!.AsArray().Where(c => !(bool)c!["isLabel"]!).Select(c => (string?)c!["name"])));
            Assert.That((string?)signature["outputs"]!["label"], Is.EqualTo("PredictedLabel.output"));
            Assert.That((string?)signature["outputs"]!["probabilities"], Is.EqualTo("Probability.output"));
        });
    }

    [TestCase("onnx-churn")]
    [TestCase("onnx-segment")]
    [TestCase("onnx-value")]
    public async Task ExportOnnx_WhenUploadedBackWithOnlyAVersion_PredictsAsTheOriginalOn1000Rows(string model)
    {
        var graph = await Client.GetByteArrayAsync($"/api/v1/models/{model}/versions/1.0.0/onnx");

        var uploaded = await OnnxUploads.UploadAsync(Client, model, graph, """{"version":"2.0.0"}""");

        Assert.That(uploaded.StatusCode, Is.EqualTo(HttpStatusCode.Created), await uploaded.Content.ReadAsStringAsync());
        var info = await OkAsync(await Client.GetAsync($"/api/v1/models/{model}/versions/2.0.0"));
        var trained = await OkAsync(await Client.GetAsync($"/api/v1/models/{model}/versions/1.0.0"));
        var task = Trained.Single(t => t.Model == model).Task;
        var rows = SampleData.Rows(task, ComparedRows, 77).Select(r => SampleData.Input(r, task)).ToList();
        var original = await PredictAsync(model, "1.0.0", rows);
        var onnx = await PredictAsync(model, "2.0.0", rows);
        var worst = 0.0;
        Assert.Multiple(() =>
        {
            Assert.That((string?)info["framework"], Is.EqualTo("onnx"));
            Assert.That(info["columns"]!.ToJsonString(), Is.EqualTo(trained["columns"]!.ToJsonString()));
            Assert.That((string?)info["task"], Is.EqualTo((string?)trained["task"]));
            Assert.That(onnx, Has.Count.EqualTo(ComparedRows));
            for (var i = 0; i < ComparedRows; i++)
            {
                Assert.That((string?)onnx[i]!["label"], Is.EqualTo((string?)original[i]!["label"]), $"label of row {i}");
                foreach (var (path, expected, actual) in Numbers(original[i]!, onnx[i]!))
                {
                    worst = Math.Max(worst, Math.Abs(actual - expected) / (1 + Math.Abs(expected)));
                    Assert.That(actual, Is.EqualTo(expected).Within(Tolerance + (Tolerance * Math.Abs(expected))), $"{path} of row {i}");
                }
            }
        });
        TestContext.Out.WriteLine($"{model}: largest |onnx - mlnet| / (1 + |mlnet|) over {ComparedRows} rows: {worst:E2}");
    }

    [Test]
    public async Task ExportOnnx_WhenAFeatureIsText_Is409NamingFeaturizeTextAndTheColumn()
    {
        var response = await Client.GetAsync("/api/v1/models/onnx-text/versions/1.0.0/onnx");

        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
            Assert.That((string?)problem!["transform"], Is.EqualTo("FeaturizeText"));
            Assert.That((string?)problem["column"], Is.EqualTo("feedback"));
            Assert.That((string?)problem["detail"], Does.Contain("FeaturizeText on column 'feedback'"));
        });
    }

    [Test]
    public async Task ExportOnnx_WhenATransformOtherThanTextDoesNotConvert_Is409NamingIt()
    {
        // An ML.NET zip trained elsewhere, uploaded as it is: its kernel map has no ONNX conversion in ML.NET.
        var ml = new MLContext(3);
        var rows = Enumerable.Range(0, 200).Select(i => new KernelRow { A = i % 13, B = i % 5, Label = i % 3 == 0 }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.Concatenate("Features", "A", "B")
            .Append(ml.Transforms.ApproximatedKernelMap("Features", rank: 4))
            .Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 5, minimumExampleCountPerLeaf: 2))
            .Fit(data);
        using var zip = new MemoryStream();
        ml.Model.Save(model, ml.Data.LoadFromEnumerable(new List<KernelInput>()).Schema, zip);
        var uploaded = await OnnxUploads.UploadAsync(
            Client,
            "onnx-kernel",
            zip.ToArray(),
            """
            {"version":"1.0.0","task":"binaryClassification","columns":[{"name":"A","kind":"numeric"},{"name":"B","kind":"numeric"}]}
            """);
        Assert.That(uploaded.StatusCode, Is.EqualTo(HttpStatusCode.Created), await uploaded.Content.ReadAsStringAsync());

        var response = await Client.GetAsync("/api/v1/models/onnx-kernel/versions/1.0.0/onnx");

        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
            Assert.That((string?)problem!["transform"], Is.EqualTo("ApproximatedKernelTransformer"));
            Assert.That((string?)problem["column"], Is.EqualTo("Features"));
        });
    }

    [Test]
    public async Task ExportOnnx_WhenExportedAgain_ServesTheStoredConversionWithoutConverting()
    {
        var exporter = _host.Factory.Services.GetRequiredService<OnnxExporter>();
        var first = await Client.GetByteArrayAsync("/api/v1/models/onnx-value/versions/1.0.0/onnx");
        var conversions = exporter.Conversions;

        var second = await Client.GetByteArrayAsync("/api/v1/models/onnx-value/versions/1.0.0/onnx");

        var version = await OkAsync(await Client.GetAsync("/api/v1/models/onnx-value/versions/1.0.0"));
        var folder = _host.Factory.Services.GetRequiredService<ModelRegistry>().VersionFolder("onnx-value", "1.0.0");
        var stored = Path.Combine(folder, $"model.{(string?)version["sha256"]}.onnx");
        Assert.Multiple(() =>
        {
            Assert.That(exporter.Conversions, Is.EqualTo(conversions), "no second conversion");
            Assert.That(second, Is.EqualTo(first));
            Assert.That(File.Exists(stored), Is.True, stored);
            Assert.That(File.ReadAllBytes(stored), Is.EqualTo(first));
        });
    }

    /// <summary>Every number a prediction carries (score, value, each class's score and probability), by its path.</summary>
    private static IEnumerable<(string Path, double Expected, double Actual)> Numbers(JsonNode expected, JsonNode actual)
    {
        foreach (var member in new[] { "score", "value" })
        {
            if (expected[member] is { } number)
            {
                yield return (member, (double)number, (double)actual[member]!);
            }
        }

        foreach (var map in new[] { "scores", "probabilities" })
        {
            foreach (var (key, number) in expected[map]?.AsObject() ?? [])
            {
                yield return ($"{map}.{key}", (double)number!, (double)actual[map]![key]!);
            }
        }
    }

    private async Task<JsonArray> PredictAsync(string model, string version, List<Dictionary<string, object?>> rows)
    {
        var body = await OkAsync(
            await Client.PostAsJsonAsync($"/api/v1/models/{model}/predict/batch", new { rows, version, useCache = false }));
        return body["predictions"]!.AsArray();
    }

    [Test]
    public async Task ExportOnnx_OfAnOnnxVersion_ReturnsTheUploadedFileUnchanged()
    {
        var graph = await Client.GetByteArrayAsync("/api/v1/models/onnx-value/versions/1.0.0/onnx");
        // A file that is not one of ours byte for byte: the export must not convert, rewrite or re-stamp it.
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(graph);
        proto.DocString = "uploaded from elsewhere";
        var uploadedFile = proto.ToByteArray();
        var uploaded = await OnnxUploads.UploadAsync(Client, "onnx-value", uploadedFile, """{"version":"5.0.0"}""");
        Assert.That(uploaded.StatusCode, Is.EqualTo(HttpStatusCode.Created), await uploaded.Content.ReadAsStringAsync());
        var conversions = _host.Factory.Services.GetRequiredService<OnnxExporter>().Conversions;

        var response = await Client.GetAsync("/api/v1/models/onnx-value/versions/5.0.0/onnx");

        Assert.Multiple(async () =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(await response.Content.ReadAsByteArrayAsync(), Is.EqualTo(uploadedFile));
            Assert.That(response.Content.Headers.ContentDisposition!.FileName, Is.EqualTo("onnx-value-5.0.0.onnx"));
            Assert.That(_host.Factory.Services.GetRequiredService<OnnxExporter>().Conversions, Is.EqualTo(conversions));
        });
    }

    private async Task<long> CreateDatasetAsync(ModelTask task)
    {
        var columns = SampleData.Columns(task);
        var created = await OkAsync(await Client.PostAsJsonAsync("/api/v1/datasets", new
        {
            name = $"onnx-{task}-{Guid.NewGuid():N}",
            columns = columns.Select(c => new
            {
                name = c.Name,
                type = JsonNamingPolicy.CamelCase.ConvertName(c.Kind.ToString()),
                role = c.IsLabel ? "label" : "feature",
            }),
        }));
        var id = (long)created["id"]!;
        var csv = new StringBuilder(string.Join(',', columns.Select(c => c.Name))).Append('\n');
        foreach (var row in SampleData.Rows(task, 600, 5))
        {
            csv.AppendJoin(',', row.Select(Csv)).Append('\n');
        }

        using var content = new StringContent(csv.ToString(), Encoding.UTF8, "text/csv");
        var imported = await Client.PostAsync($"/api/v1/datasets/{id}/rows?format=csv", content);
        Assert.That(imported.IsSuccessStatusCode, Is.True, await imported.Content.ReadAsStringAsync());
        return id;
    }

    private async Task<string> StartTrainingAsync(string model, ModelTask task, string trainer, long dataset, string? exclude)
    {
        var started = await Client.PostAsJsonAsync("/api/v1/training-runs", new
        {
            model,
            version = "1.0.0",
            task = JsonNamingPolicy.CamelCase.ConvertName(task.ToString()),
            datasetId = dataset,
            trainer,
            seed = 3,
            excludeColumns = exclude is null ? null : new[] { exclude },
        });
        Assert.That(started.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await started.Content.ReadAsStringAsync());
        return started.Headers.Location!.ToString();
    }

    private static string Csv(object? value) => value switch
    {
        null => "",
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture)!,
    };

    private static async Task<JsonObject> OkAsync(HttpResponseMessage response)
    {
        Assert.That(response.IsSuccessStatusCode, Is.True, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    private sealed class KernelRow
    {
        public float A { get; set; }

        public float B { get; set; }

        public bool Label { get; set; }
    }

    private sealed class KernelInput
    {
        public float A { get; set; }

        public float B { get; set; }
    }
}
