using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Model.Onnx;

/// <summary>ONNX graphs uploaded through the REST upload and served by the predict endpoints, on both providers.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class OnnxUploadTests(DatabaseProvider provider)
{
    private static readonly string[] Columns = ["tenure", "charges"];

    private TestDatabase _db = null!;
    private FormanovaFactory _factory = null!;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        _db = await TestDatabase.CreateAsync(provider);
        _factory = new FormanovaFactory(_db.Settings.Append(new("Model:Bootstrap:Enabled", "false")));
        _client = _factory.CreateClient();
        await _factory.Services.GetRequiredService<ModelBootstrapper>().Completed;
    }

    [OneTimeTearDown]
    public async Task OneTimeTearDown()
    {
        _client.Dispose();
        _factory.Dispose();
        await _db.DisposeAsync();
    }

    [Test]
    public async Task Upload_WhenTheGraphFollowsTheMlnetConvention_RegistersItAndServesPredictions()
    {
        var graph = OnnxGraphs.LinearPerColumn(Columns, [0.5f, 2f], 1f);

        var upload = await OnnxUploads.UploadAsync(_client, "linear", graph, new
        {
            version = "1.0.0",
            task = "regression",
            columns = new[] { new { name = "tenure", kind = "numeric" }, new { name = "charges", kind = "numeric" } },
        });
        var request = new { version = "1.0.0", inputs = new { tenure = 2, charges = 3 } };
        var predict = await PostJsonAsync("/api/v1/models/linear/predict", request);
        var again = await PostJsonAsync("/api/v1/models/linear/predict", request);

        var registered = await upload.Content.ReadFromJsonAsync<JsonElement>();
        var predicted = await predict.Content.ReadFromJsonAsync<JsonElement>();
        var repeated = await again.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Multiple(() =>
        {
            Assert.That(upload.StatusCode, Is.EqualTo(HttpStatusCode.Created), registered.ToString());
            Assert.That(registered.GetProperty("framework").GetString(), Is.EqualTo("onnx"));
            Assert.That(registered.GetProperty("opset").GetInt32(), Is.EqualTo(13));
            Assert.That(
                registered.GetProperty("signature").GetProperty("outputs").GetProperty("score").GetString(),
                Is.EqualTo("Score.output"));
            Assert.That(predict.StatusCode, Is.EqualTo(HttpStatusCode.OK), predicted.ToString());
            Assert.That(predicted.GetProperty("value").GetDouble(), Is.EqualTo((0.5 * 2) + (2 * 3) + 1).Within(1e-5));
            Assert.That(predicted.GetProperty("cached").GetBoolean(), Is.False);
            Assert.That(repeated.GetProperty("cached").GetBoolean(), Is.True, "the prediction cache serves ONNX versions too");
            Assert.That(repeated.GetProperty("value").GetDouble(), Is.EqualTo(predicted.GetProperty("value").GetDouble()));
        });
    }

    [Test]
    public async Task Upload_WithAnExplicitSignatureOfOneInputPerColumn_ServesThroughIt()
    {
        // Inputs named unlike the columns: only the signature says which column feeds which tensor.
        var graph = OnnxGraphs.LinearPerColumn(["in_a", "in_b"], [1f, -1f], 0f, output: "y");

        var upload = await OnnxUploads.UploadAsync(_client, "explicit", graph, new
        {
            version = "1.0.0",
            task = "regression",
            columns = new[] { new { name = "tenure", kind = "numeric" }, new { name = "charges", kind = "numeric" } },
            signature = new
            {
                inputs = new[]
                {
                    new { name = "in_a", elementType = "float", shape = Array.Empty<long>(), columns = new[] { "charges" } },
                    new { name = "in_b", elementType = "float", shape = Array.Empty<long>(), columns = new[] { "tenure" } },
                },
                outputs = new { score = "y" },
            },
        });
        var predict = await PostJsonAsync(
            "/api/v1/models/explicit/predict",
            new { version = "1.0.0", inputs = new { tenure = 2, charges = 5 } });

        var predicted = await predict.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Multiple(async () =>
        {
            Assert.That(upload.StatusCode, Is.EqualTo(HttpStatusCode.Created), await upload.Content.ReadAsStringAsync());
            Assert.That(predict.StatusCode, Is.EqualTo(HttpStatusCode.OK), predicted.ToString());
            Assert.That(predicted.GetProperty("value").GetDouble(), Is.EqualTo(5 - 2).Within(1e-5));
        });
    }

    [Test]
    public async Task Upload_WithASignatureAndNoColumns_TakesTheColumnsAndTheirKindsFromTheSignature()
    {
        var upload = await OnnxUploads.UploadAsync(_client, "mixed", OnnxGraphs.Mixed(), new
        {
            version = "1.0.0",
            task = "regression",
            signature = new
            {
                inputs = new object[]
                {
                    new { name = "count", elementType = "int64", shape = Array.Empty<long>(), columns = new[] { "count" } },
                    new { name = "ratio", elementType = "double", shape = Array.Empty<long>(), columns = new[] { "ratio" } },
                    new { name = "plan", elementType = "string", shape = Array.Empty<long>(), columns = new[] { "plan" } },
                    new
                    {
                        name = "colour",
                        elementType = "float",
                        shape = Array.Empty<long>(),
                        columns = new[] { "colour" },
                        categories = new { colour = new[] { "red", "green", "blue" } },
                    },
                },
                outputs = new { score = "Score.output" },
            },
        });
        var body = await upload.Content.ReadFromJsonAsync<JsonElement>();
        var predict = await PostJsonAsync(
            "/api/v1/models/mixed/predict",
            new { version = "1.0.0", inputs = new { count = 3, ratio = 0.5, plan = "b", colour = "green" } });
        var predicted = await predict.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Multiple(() =>
        {
            Assert.That(upload.StatusCode, Is.EqualTo(HttpStatusCode.Created), body.ToString());
            var columns = body.GetProperty("columns").EnumerateArray();
            Assert.That(
                columns.Select(c => (c.GetProperty("name").GetString(), c.GetProperty("kind").GetString())),
                Is.EqualTo(new[] { ("count", "numeric"), ("ratio", "numeric"), ("plan", "categorical"), ("colour", "categorical") }));
            Assert.That(predicted.GetProperty("value").GetDouble(), Is.EqualTo(3 + 0.5 + 2 + 20).Within(1e-5), predicted.ToString());
        });
    }

    [Test]
    public async Task PredictBatch_OnAnOnnxVersion_ScoresEachChunkAsOneRun()
    {
        await OnnxUploads.UploadAsync(_client, "runs", OnnxGraphs.RowsInRun(), new { version = "1.0.0", task = "regression" });
        var rows = Enumerable.Range(0, 5).Select(i => new { x = i }).ToArray();

        var uncached = await PostJsonAsync("/api/v1/models/runs/predict/batch", new { version = "1.0.0", rows, useCache = false });
        var cached = await PostJsonAsync("/api/v1/models/runs/predict/batch", new { version = "1.0.0", rows });
        var positional = await _factory.Services.GetRequiredService<IModelModule>().PredictRowsAsync(
            new PredictRowsRequest("runs", ["x"], [.. rows.Select(r => new object?[] { (double)r.x })], Version: "1.0.0"));

        var uncachedBody = await uncached.Content.ReadFromJsonAsync<JsonElement>();
        var cachedBody = await cached.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Multiple(() =>
        {
            Assert.That(uncached.StatusCode, Is.EqualTo(HttpStatusCode.OK), uncachedBody.ToString());
            Assert.That(Values(uncachedBody), Is.All.EqualTo(5), "the five rows made one run (Model:Inference:BatchSize is 32)");
            Assert.That(Values(cachedBody), Is.All.EqualTo(5));
            Assert.That(positional.Values, Is.All.EqualTo(5));
        });

        static IEnumerable<double> Values(JsonElement body) =>
            body.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("value").GetDouble());
    }

    [Test]
    public async Task Upload_WhenTheGraphIsAConvertedScikitLearnClassifier_NeedsOnlyTheColumnsAndServesClasses()
    {
        var graph = OnnxGraphs.Sklearn([1, 0, 0, 1, -1, -1], [0, 0, 0], [3, 5, 7]);

        var upload = await OnnxUploads.UploadAsync(_client, "iris", graph, new
        {
            version = "1.0.0",
            columns = new[] { new { name = "a", kind = "numeric" }, new { name = "b", kind = "numeric" } },
        });
        var predict = await PostJsonAsync("/api/v1/models/iris/predict", new { version = "1.0.0", inputs = new { a = 0, b = 4 } });

        var registered = await upload.Content.ReadFromJsonAsync<JsonElement>();
        var predicted = await predict.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Multiple(() =>
        {
            Assert.That(upload.StatusCode, Is.EqualTo(HttpStatusCode.Created), registered.ToString());
            Assert.That(registered.GetProperty("task").GetString(), Is.EqualTo("multiclassClassification"));
            Assert.That(predicted.GetProperty("label").GetString(), Is.EqualTo("5"), predicted.ToString());
            Assert.That(predicted.GetProperty("probabilities").EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "3", "5", "7" }));
        });
    }

    [Test]
    public async Task Upload_WhenTheOutputsDoNotFitTheTask_Refuses422AndRegistersNothing()
    {
        // A three-class probability tensor declared as a regression's score.
        var graph = OnnxGraphs.Sklearn([1, 0, 0, 1, -1, -1], [0, 0, 0], [0, 1, 2], zipMap: false);

        var upload = await OnnxUploads.UploadAsync(_client, "misfit", graph, new
        {
            version = "1.0.0",
            task = "regression",
            columns = new[] { new { name = "a", kind = "numeric" }, new { name = "b", kind = "numeric" } },
            signature = new
            {
                inputs = new[]
                {
                    new { name = "float_input", elementType = "float", shape = Array.Empty<long>(), columns = new[] { "a", "b" } },
                },
                outputs = new { score = "probabilities" },
            },
        });
        var model = await _client.GetAsync("/api/v1/models/misfit");

        var body = await upload.Content.ReadAsStringAsync();
        Assert.Multiple(() =>
        {
            Assert.That(upload.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity), body);
            Assert.That(
                JsonDocument.Parse(body).RootElement.GetProperty("errors").EnumerateObject().Select(e => e.Name),
                Is.EqualTo(new[] { "signature.outputs" }));
            Assert.That(model.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(Directory.Exists(Path.Combine(_db.DataDirectory, "models")), Is.True);
            Assert.That(Directory.Exists(Path.Combine(_db.DataDirectory, "models", "misfit")), Is.False);
        });
    }

    private Task<HttpResponseMessage> PostJsonAsync(string path, object body) =>
        _client.PostAsync(path, new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));
}
