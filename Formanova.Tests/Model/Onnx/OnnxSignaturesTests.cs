using System.Text.Json;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Onnx;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Tests.Model.Onnx;

/// <summary>How an ONNX upload's task, columns and signature are settled from the request, the metadata and the graph.</summary>
public sealed class OnnxSignaturesTests
{
    private static readonly ModelColumn[] Numeric = [new("a", ColumnKind.Numeric), new("b", ColumnKind.Numeric)];

    [Test]
    public void Resolve_WhenTheGraphFollowsTheMlnetExport_InfersTheColumnsTaskAndOutputs()
    {
        var resolved = Resolve(OnnxGraphs.BinaryPerColumn(["tenure", "charges"], [1f, -1f]));

        Assert.Multiple(() =>
        {
            Assert.That(resolved.Task, Is.EqualTo(ModelTask.BinaryClassification));
            Assert.That(
                resolved.Columns.Select(c => (c.Name, c.Kind)),
                Is.EqualTo(new[] { ("tenure", ColumnKind.Numeric), ("charges", ColumnKind.Numeric) }));
            Assert.That(
                resolved.Signature.Inputs.Select(i => (i.Name, string.Join(",", i.Columns))),
                Is.EqualTo(new[] { ("tenure", "tenure"), ("charges", "charges") }));
            Assert.That(
                resolved.Signature.Outputs,
                Is.EqualTo(new OnnxOutputBinding("PredictedLabel.output", "Score.output", "Probability.output")));
        });
    }

    [Test]
    public void Resolve_WhenOneInputIsPackedLikeSkl2onnx_PacksTheColumnsInOrderAndReadsTheClassesFromTheGraph()
    {
        var model = OnnxGraphs.Sklearn([1, 0, 0, 1, -1, -1], [0, 0, 0], [3, 5, 7]);

        var resolved = Resolve(model, new RegisterOnnxRequest("m", "1.0.0", Columns: Numeric));

        Assert.Multiple(() =>
        {
            Assert.That(resolved.Task, Is.EqualTo(ModelTask.MulticlassClassification));
            Assert.That(resolved.Signature.Inputs.Single().Name, Is.EqualTo("float_input"));
            Assert.That(resolved.Signature.Inputs.Single().Columns, Is.EqualTo(new[] { "a", "b" }));
            Assert.That(resolved.Signature.Outputs.Label, Is.EqualTo("output_label"));
            Assert.That(resolved.Signature.Outputs.Probabilities, Is.EqualTo("output_probability"));
            Assert.That(resolved.Signature.Outputs.Classes, Is.EqualTo(new[] { "3", "5", "7" }));
        });
    }

    [Test]
    public void Resolve_WhenAPackedInputComesWithoutColumns_RefusesNamingTheColumns()
    {
        var error = Refusal(OnnxGraphs.Sklearn([1, 0, 0, 1], [0, 0], [0, 1]), new RegisterOnnxRequest("m", "1.0.0"));

        Assert.Multiple(() =>
        {
            Assert.That(error.Kind, Is.EqualTo(ErrorKind.Invalid));
            Assert.That(error.Errors.Keys, Is.EqualTo(new[] { "columns" }));
            Assert.That(error.Message, Does.Contain("float_input"));
        });
    }

    [Test]
    public void Resolve_WhenTheSignatureGivesTheWrongElementType_RefusesNamingTheField()
    {
        var signature = new OnnxSignature(
            [new OnnxInputBinding("a", OnnxElementType.Float, [], ["a"]), new OnnxInputBinding("b", OnnxElementType.Int64, [], ["b"])],
            new OnnxOutputBinding(Score: "Score.output"));

        var error = Refusal(
            OnnxGraphs.LinearPerColumn(["a", "b"], [1, 1], 0),
            new RegisterOnnxRequest("m", "1.0.0", ModelTask.Regression, Numeric, signature));

        Assert.Multiple(() =>
        {
            Assert.That(error.Kind, Is.EqualTo(ErrorKind.Invalid));
            Assert.That(error.Errors.Keys, Is.EqualTo(new[] { "signature.inputs[1].elementType" }));
            Assert.That(error.Errors["signature.inputs[1].elementType"][0], Does.Contain("float, not int64"));
        });
    }

    [Test]
    public void Resolve_WhenTheSignatureNamesAnOutputTheGraphLacksAndLeavesAColumnOut_RefusesNamingEach()
    {
        var signature = new OnnxSignature(
            [new OnnxInputBinding("a", OnnxElementType.Float, [], ["a"]), new OnnxInputBinding("b", OnnxElementType.Float, [], ["a"])],
            new OnnxOutputBinding(Score: "prediction"));

        var error = Refusal(
            OnnxGraphs.LinearPerColumn(["a", "b"], [1, 1], 0),
            new RegisterOnnxRequest("m", "1.0.0", ModelTask.Regression, Numeric, signature));

        Assert.That(
            error.Errors.Keys,
            Is.EquivalentTo(new[] { "signature.inputs[1].columns[0]", "signature.inputs", "signature.outputs.score" }),
            string.Join("; ", error.Errors.Select(e => $"{e.Key}: {e.Value[0]}")));
    }

    [Test]
    public void Resolve_WhenTheTaskNeedsWhatTheOutputsDoNotGive_Refuses422()
    {
        var probabilities = new OnnxSignature(
            [new OnnxInputBinding("float_input", OnnxElementType.Float, [], ["a", "b"])],
            new OnnxOutputBinding(Score: "probabilities"));

        var regression = Refusal(
            OnnxGraphs.Sklearn([1, 0, 0, 1, -1, -1], [0, 0, 0], [0, 1, 2], zipMap: false),
            new RegisterOnnxRequest("m", "1.0.0", ModelTask.Regression, Numeric, probabilities));
        var labelOnly = Refusal(
            OnnxGraphs.Sklearn([1, 0, 0, 1, -1, -1], [0, 0, 0], [0, 1, 2], zipMap: false),
            new RegisterOnnxRequest("m", "1.0.0", ModelTask.MulticlassClassification, Numeric, probabilities with
            {
                Outputs = new OnnxOutputBinding(Label: "label"),
            }));

        Assert.Multiple(() =>
        {
            Assert.That(regression.Kind, Is.EqualTo(ErrorKind.Unprocessable));
            Assert.That(regression.Errors.Keys, Is.EqualTo(new[] { "signature.outputs" }));
            Assert.That(regression.Message, Does.Contain("one float per row"));
            Assert.That(labelOnly.Kind, Is.EqualTo(ErrorKind.Unprocessable));
            Assert.That(labelOnly.Message, Does.Contain("probabilities or scores"));
        });
    }

    [Test]
    public void Resolve_WhenTheGraphCarriesFormanovaMetadata_TakesTheTaskColumnsAndSignatureFromIt()
    {
        var signature = new OnnxSignature(
            [new OnnxInputBinding("x", OnnxElementType.Float, [], ["b"]), new OnnxInputBinding("y", OnnxElementType.Float, [], ["a"])],
            new OnnxOutputBinding(Score: "out"));
        var model = Rebuild(
            OnnxGraphs.LinearPerColumn(["x", "y"], [1, 2], 0, output: "out"),
            (OnnxMetadataKeys.Task, "regression"),
            (OnnxMetadataKeys.Columns, JsonSerializer.Serialize(Numeric, RegistryJson.Options)),
            (OnnxMetadataKeys.Signature, JsonSerializer.Serialize(signature, RegistryJson.Options)));

        var resolved = Resolve(model);

        Assert.Multiple(() =>
        {
            Assert.That(resolved.Task, Is.EqualTo(ModelTask.Regression));
            Assert.That(resolved.Columns, Is.EqualTo(Numeric));
            Assert.That(resolved.Signature.Inputs.Select(i => i.Columns.Single()), Is.EqualTo(new[] { "b", "a" }));
            Assert.That(resolved.Signature.Inputs[0].Shape, Is.EqualTo(new long[] { -1, 1 }), "the graph's shape is kept");
        });
    }

    [Test]
    public void Parse_WhenTheFileIsNotAnOnnxModel_Refuses422NamingTheModel()
    {
        var error = Assert.Throws<ModuleException>(() => OnnxGraph.Parse("not a model at all"u8.ToArray()))!;

        Assert.Multiple(() =>
        {
            Assert.That(error.Kind, Is.EqualTo(ErrorKind.Unprocessable));
            Assert.That(error.Errors.Keys, Is.EqualTo(new[] { "model" }));
        });
    }

    internal static ResolvedOnnx Resolve(byte[] model, RegisterOnnxRequest? request = null)
    {
        var proto = OnnxGraph.Parse(model);
        using var session = OnnxSessions.Create(model, new ModelOptions.OnnxOptions());
        return OnnxSignatures.Resolve(request ?? new RegisterOnnxRequest("m", "1.0.0"), OnnxGraph.Read(proto, session), 4096);
    }

    private static ModuleException Refusal(byte[] model, RegisterOnnxRequest request) =>
        Assert.Throws<ModuleException>(() => Resolve(model, request))!;

    private static byte[] Rebuild(byte[] model, params (string Key, string Value)[] metadata)
    {
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(model);
        foreach (var (key, value) in metadata)
        {
            proto.MetadataProps.Add(new global::Onnx.StringStringEntryProto { Key = key, Value = value });
        }

        return Google.Protobuf.MessageExtensions.ToByteArray(proto);
    }
}
