using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using static Formanova.Tests.Model.Onnx.HandBuiltModels;
using static Formanova.Tests.Model.Onnx.OnnxUploads;

namespace Formanova.Tests.Model.Onnx;

/// <summary>
/// Every bad ONNX upload is a clear 4xx naming the problem, and leaves the registry as it was: the model's version
/// list and every file under the artifact directory are unchanged, and the same version then uploads from a good file.
/// </summary>
[Category("Integration")]
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class OnnxUploadRefusalTests(DatabaseProvider provider)
{
    private const int MaxBytes = 200_000;

    private HostedDatabase _host = null!;

    private HttpClient Client => _host.Client;

    /// <param name="File">What is uploaded as version 2.0.0.</param>
    /// <param name="Metadata">The metadata of that upload, given the version.</param>
    /// <param name="Status">The refusal's status.</param>
    /// <param name="Field">The key of the problem's <c>errors</c> that names the problem (null: the detail alone names it).</param>
    /// <param name="Mention">Words the problem must hold.</param>
    /// <param name="Regression">Whether the model is the regression one (<see cref="Regression"/>) rather than the binary one.</param>
    public sealed record Refusal(
        byte[] File,
        Func<string, object> Metadata,
        HttpStatusCode Status,
        string? Field,
        string Mention,
        bool Regression = false);

    [OneTimeSetUp]
    public async Task StartAsync() => _host = await HostedDatabase.StartAsync(
        provider,
        [new("Model:Bootstrap:Enabled", "false"), new("Model:Upload:MaxBytes", $"{MaxBytes}")]);

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    public static IEnumerable<TestCaseData> Refusals()
    {
        static TestCaseData Case(string name, Refusal refusal) =>
            new TestCaseData(refusal).SetName($"Upload_{name}_IsRefusedAndRegistersNothing");

        var binary = Binary();
        yield return Case("WhenTheBytesAreNoModel", new Refusal(
            "this is neither a zip nor an ONNX graph"u8.ToArray(), BinaryMetadata, HttpStatusCode.UnprocessableEntity, "model", "neither"));
        yield return Case("WhenTheFileIsTruncated", new Refusal(
            binary[..(binary.Length / 2)], BinaryMetadata, HttpStatusCode.UnprocessableEntity, "model", "truncated"));
        yield return Case("WhenTheFileIsOverMaxBytes", new Refusal(
            BinaryPadded(MaxBytes / 4), BinaryMetadata, HttpStatusCode.RequestEntityTooLarge, null, "Model:Upload:MaxBytes"));
        yield return Case("WhenTheSignatureNamesAMissingInput", new Refusal(
            binary,
            v => BinaryWith(v, [Binding("agee", "float", [-1, 1], ["age"]), ColumnInput("income")]),
            HttpStatusCode.BadRequest,
            "signature.inputs[0].name", "agee"));
        yield return Case("WhenTheSignatureNamesAMissingOutput", new Refusal(
            binary,
            v => BinaryWith(v, outputs: new { label = "label", probabilities = "prob" }),
            HttpStatusCode.BadRequest,
            "signature.outputs.probabilities", "'prob'"));
        yield return Case("WhenAColumnIsMappedTwice", new Refusal(
            binary,
            v => BinaryWith(v, [ColumnInput("age"), Binding("income", "float", [-1, 1], ["age"])]),
            HttpStatusCode.BadRequest,
            "signature.inputs[1].columns[0]", "more than one"));
        yield return Case("WhenAColumnIsLeftUnmapped", new Refusal(
            binary,
            v => BinaryWith(v, columns: [.. BinaryColumns, new { name = "tenure", kind = "numeric" }]),
            HttpStatusCode.BadRequest,
            "signature.inputs", "tenure"));
        yield return Case("WhenAStringColumnFeedsAFloatInput", new Refusal(
            binary,
            v => BinaryWith(v, columns: [new { name = "age", kind = "numeric" }, new { name = "income", kind = "categorical" }]),
            HttpStatusCode.BadRequest,
            "signature.inputs[1].columns[0]", "categorical"));
        yield return Case("WhenTheSignatureSaysInt64WhereTheGraphSaysFloat", new Refusal(
            binary,
            v => BinaryWith(v, [ColumnInput("age", "int64"), ColumnInput("income")]),
            HttpStatusCode.BadRequest,
            "signature.inputs[0].elementType", "is float, not int64"));
        yield return Case("WhenTheSignatureShapeIsNotTheGraphs", new Refusal(
            binary,
            v => BinaryWith(v, [Binding("age", "float", [-1, 2], ["age"]), ColumnInput("income")]),
            HttpStatusCode.BadRequest,
            "signature.inputs[0].shape", "[-1,1]"));
        yield return Case("WhenAPackedInputGetsFewerColumnsThanItsShape", new Refusal(
            Regression(),
            v => new
            {
                version = v,
                task = "regression",
                columns = RegressionColumns[..2],
                signature = new
                {
                    inputs = new[] { Binding("features", "float", [-1, 3], ["x1", "x2"]) },
                    outputs = new { score = "value" },
                },
            },
            HttpStatusCode.BadRequest,
            "signature.inputs[0].columns", "takes 3 values per row",
            Regression: true));
        yield return Case("WhenARegressionGraphIsUploadedAsMulticlass", new Refusal(
            Regression(),
            v => new
            {
                version = v,
                task = "multiclassClassification",
                columns = RegressionColumns,
                signature = new
                {
                    inputs = new[] { Binding("features", "float", [-1, 3], ["x1", "x2", "x3"]) },
                    outputs = new { probabilities = "value", classes = Tiers },
                },
            },
            HttpStatusCode.UnprocessableEntity,
            "signature.outputs", "3 classes",
            Regression: true));
        yield return Case("WhenTheGraphFailsOnTheSampleRow", new Refusal(
            FailsOnEveryRow(),
            v => new
            {
                version = v,
                task = "regression",
                columns = new[] { new { name = "x1", kind = "numeric" } },
                signature = new { inputs = new[] { ColumnInput("x1") }, outputs = new { score = "value" } },
            },
            HttpStatusCode.UnprocessableEntity,
            "model", "Gather"));
    }

    [TestCaseSource(nameof(Refusals))]
    public async Task Upload_WhenTheFileOrItsSignatureIsWrong_IsRefusedWithA4xxAndRegistersNothing(Refusal refusal)
    {
        var name = $"refused-{Guid.NewGuid():N}"[..16];
        var (good, goodMetadata) = refusal.Regression
            ? (Regression(), (Func<string, object>)GoodRegression)
            : (Binary(), BinaryMetadata);
        await RegisterAsync(Client, name, good, goodMetadata("1.0.0"));
        var versionsBefore = await VersionsAsync(name);
        var filesBefore = ArtifactFiles();

        var refused = await UploadAsync(Client, name, refusal.File, refusal.Metadata("2.0.0"));
        var problem = await refused.Content.ReadAsStringAsync();
        var versionsAfter = await VersionsAsync(name);
        var filesAfter = ArtifactFiles();
        var retry = await UploadAsync(Client, name, good, goodMetadata("2.0.0"));

        Assert.Multiple(async () =>
        {
            Assert.That(refused.StatusCode, Is.EqualTo(refusal.Status), problem);
            Assert.That(refused.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
            Assert.That(problem, Does.Contain(refusal.Mention));
            if (refusal.Field is not null)
            {
                Assert.That(JsonNode.Parse(problem)?["errors"]?.AsObject().Select(e => e.Key), Does.Contain(refusal.Field), problem);
            }

            Assert.That(problem, Does.Not.Contain("System.").And.Not.Contain("   at "), "no exception type or stack trace");
            Assert.That(versionsAfter, Is.EqualTo(versionsBefore), "the version list is unchanged");
            Assert.That(filesAfter, Is.EqualTo(filesBefore), "no artifact file is added, changed or left behind");
            Assert.That(retry.StatusCode, Is.EqualTo(HttpStatusCode.Created), await retry.Content.ReadAsStringAsync());
        });
    }

    private static object GoodRegression(string version) => new
    {
        version,
        task = "regression",
        columns = RegressionColumns,
        signature = RegressionSignature,
    };

    private static object BinaryWith(string version, object[]? inputs = null, object? outputs = null, object[]? columns = null) => new
    {
        version,
        task = "binaryClassification",
        columns = columns ?? BinaryColumns,
        signature = new
        {
            inputs = inputs ?? [ColumnInput("age"), ColumnInput("income")],
            outputs = outputs ?? new { label = "label", score = "score", probabilities = "probability" },
        },
    };

    private async Task<List<string>> VersionsAsync(string name)
    {
        var model = JsonNode.Parse(await Client.GetStringAsync($"/api/v1/models/{name}"))!;
        return [.. model["versions"]!.AsArray().Select(v => $"{v!["version"]} {v["status"]} {v["sha256"]}")];
    }

    /// <summary>Every file under the registry's folder (temporary ones included), with its SHA-256.</summary>
    private List<string> ArtifactFiles()
    {
        var root = Path.Combine(_host.Database.DataDirectory, "models");
        if (!Directory.Exists(root))
        {
            return [];
        }

        return [
            .. Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                .Select(f => $"{Path.GetRelativePath(root, f)} {Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f)))}")
                .Order(StringComparer.Ordinal)
        ];
    }
}
