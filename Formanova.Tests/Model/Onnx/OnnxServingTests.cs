using System.Text.Json.Nodes;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using static Formanova.Tests.Model.Onnx.OnnxUploads;

namespace Formanova.Tests.Model.Onnx;

/// <summary>
/// Graphs built by hand (<see cref="HandBuiltModels"/>) with several named inputs, a string input, a one-hot input
/// and a packed input, uploaded with a signature over HTTP: direct and batch predictions give the values the weights
/// give when computed here.
/// </summary>
[Category("Integration")]
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class OnnxServingTests(DatabaseProvider provider)
{
    /// <summary>float32 all the way in the graph; the expected values are computed in double from the same floats.</summary>
    private const double Tolerance = 1e-5;

    /// <summary>The regression values reach the tens: float32 keeps about seven significant digits.</summary>
    private const double ValueTolerance = 1e-4;

    private static readonly (double Age, double Income)[] People =
        [(18, 12), (35.5, 48.25), (62, 90), (0, -5), (47, 20), (23, 71.5)];

    private HostedDatabase _host = null!;

    private HttpClient Client => _host.Client;

    [OneTimeSetUp]
    public async Task StartAsync() =>
        _host = await HostedDatabase.StartAsync(provider, [new("Model:Bootstrap:Enabled", "false")]);

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [Test]
    public async Task Upload_BinaryGraphWithTwoNamedInputs_RegistersItAsOnnxAndServesTheSigmoidOfTheWeights()
    {
        var registered = await RegisterAsync(Client, "onnx-binary", HandBuiltModels.Binary(), HandBuiltModels.BinaryMetadata("1.0.0"));

        var single = new List<JsonObject>();
        foreach (var (age, income) in People)
        {
            single.Add(await PredictAsync(Client, "onnx-binary", new { age, income }, "1.0.0"));
        }

        var batch = await PredictBatchAsync(Client, "onnx-binary", People.Select(p => new { age = p.Age, income = p.Income }), "1.0.0");

        Assert.Multiple(() =>
        {
            Assert.That((string?)registered["framework"], Is.EqualTo("onnx"));
            Assert.That((int?)registered["opset"], Is.EqualTo(13), "the default domain's opset of the hand-built graphs");
            Assert.That(
                registered["signature"]!["inputs"]!.AsArray().Select(i => (string?)i!["name"]),
                Is.EqualTo(new[] { "age", "income" }));
            Assert.That((string?)registered["sha256"], Is.EqualTo(Convert.ToHexStringLower(
                System.Security.Cryptography.SHA256.HashData(HandBuiltModels.Binary()))));
            for (var i = 0; i < People.Length; i++)
            {
                var (age, income) = People[i];
                foreach (var prediction in new[] { single[i], batch[i]!.AsObject() })
                {
                    var probability = HandBuiltModels.BinaryProbability(age, income);
                    Assert.That((string?)prediction["version"], Is.EqualTo("1.0.0"));
                    Assert.That((string?)prediction["label"], Is.EqualTo(probability > 0.5 ? "true" : "false"), $"row {i}");
                    Assert.That((double?)prediction["score"], Is.EqualTo(HandBuiltModels.BinaryLogit(age, income)).Within(Tolerance));
                    Assert.That((double?)prediction["probabilities"]!["true"], Is.EqualTo(probability).Within(Tolerance), $"row {i}");
                    Assert.That((double?)prediction["probabilities"]!["false"], Is.EqualTo(1 - probability).Within(Tolerance));
                }
            }
        });
    }

    [TestCase(false, TestName = "Upload_MulticlassGraphWithAStringInputEncodedInTheGraph_ServesTheSoftmaxOfTheWeights")]
    [TestCase(true, TestName = "Upload_MulticlassGraphWithAOneHotInput_EncodesThePlanFromTheSignaturesCategories")]
    public async Task Upload_MulticlassGraph_ServesTheSoftmaxOfTheWeights(bool oneHotInput)
    {
        var name = oneHotInput ? "onnx-multiclass-hot" : "onnx-multiclass";
        await RegisterAsync(
            Client,
            name,
            oneHotInput ? HandBuiltModels.MulticlassOneHotInput() : HandBuiltModels.Multiclass(),
            new
            {
                version = "1.0.0",
                task = "multiclassClassification",
                columns = HandBuiltModels.MulticlassColumns,
                signature = oneHotInput ? HandBuiltModels.MulticlassOneHotSignature : HandBuiltModels.MulticlassSignature,
            });
        // "enterprise" is no plan of the list: all of its slots are zero, in the graph's encoder and in the service's.
        string[] plans = [.. HandBuiltModels.Plans, "enterprise", "basic", "pro"];
        var rows = People.Select((p, i) => new { age = p.Age, income = p.Income, plan = plans[i] }).ToList();

        var single = new List<JsonObject>();
        foreach (var row in rows)
        {
            single.Add(await PredictAsync(Client, name, row, "1.0.0"));
        }

        var batch = await PredictBatchAsync(Client, name, rows, "1.0.0");

        Assert.Multiple(() =>
        {
            for (var i = 0; i < rows.Count; i++)
            {
                var expected = HandBuiltModels.MulticlassProbabilities(rows[i].age, rows[i].income, rows[i].plan);
                var best = Array.IndexOf(expected, expected.Max());
                foreach (var prediction in new[] { single[i], batch[i]!.AsObject() })
                {
                    Assert.That((string?)prediction["label"], Is.EqualTo(HandBuiltModels.Tiers[best]), $"row {i}");
                    Assert.That((double?)prediction["score"], Is.EqualTo(expected[best]).Within(Tolerance), $"row {i}");
                    for (var k = 0; k < expected.Length; k++)
                    {
                        Assert.That(
                            (double?)prediction["probabilities"]![HandBuiltModels.Tiers[k]],
                            Is.EqualTo(expected[k]).Within(Tolerance),
                            $"row {i}, {HandBuiltModels.Tiers[k]}");
                    }
                }
            }
        });
    }

    [Test]
    public async Task Upload_RegressionGraphWithOnePackedInput_ServesTheWeightedSumOfTheThreeColumns()
    {
        await RegisterAsync(Client, "onnx-regression", HandBuiltModels.Regression(), new
        {
            version = "1.0.0",
            task = "regression",
            columns = HandBuiltModels.RegressionColumns,
            signature = HandBuiltModels.RegressionSignature,
        });
        var rows = Enumerable.Range(0, 25).Select(i => new { x1 = i * 0.5, x2 = 10.0 - i, x3 = i * i / 7.0 }).ToList();

        var single = await PredictAsync(Client, "onnx-regression", new { x1 = 1.0, x2 = 2.0, x3 = 3.0 }, "1.0.0");
        var batch = await PredictBatchAsync(Client, "onnx-regression", rows, "1.0.0");

        Assert.Multiple(() =>
        {
            Assert.That((double?)single["value"], Is.EqualTo(HandBuiltModels.RegressionValue(1, 2, 3)).Within(ValueTolerance));
            Assert.That((string?)single["label"], Is.Null);
            Assert.That(
                batch.Select(p => (double?)p!["value"]),
                Is.EqualTo(rows.Select(r => HandBuiltModels.RegressionValue(r.x1, r.x2, r.x3))).Within(ValueTolerance));
        });
    }
}
