using System.Text.Json;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Inference;
using Formanova.Modules.Model.Onnx;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Tests.Model.Onnx;

/// <summary>ONNX versions loaded and scored: tensors built from converted rows, outputs read into predictions.</summary>
public sealed class OnnxBackendTests
{
    private static readonly ModelColumn[] MixedColumns =
    [
        new("count", ColumnKind.Numeric),
        new("ratio", ColumnKind.Numeric),
        new("plan", ColumnKind.Categorical),
        new("colour", ColumnKind.Categorical),
    ];

    private static readonly OnnxSignature MixedSignature = new(
        [
            new OnnxInputBinding("count", OnnxElementType.Int64, [], ["count"]),
            new OnnxInputBinding("ratio", OnnxElementType.Double, [], ["ratio"]),
            new OnnxInputBinding("plan", OnnxElementType.String, [], ["plan"]),
            new OnnxInputBinding(
                "colour",
                OnnxElementType.Float,
                [],
                ["colour"],
                new Dictionary<string, IReadOnlyList<string>> { ["colour"] = ["red", "green", "blue"] }),
        ],
        new OnnxOutputBinding(Score: "Score.output"));

    [Test]
    public void Predict_ForEveryElementTypeAndOneHotInput_BuildsTheTensorsFromTheRow()
    {
        var model = Load(OnnxGraphs.Mixed(), new RegisterOnnxRequest("m", "1.0.0", ModelTask.Regression, MixedColumns, MixedSignature));

        var green = Predict(model, new() { ["count"] = 3, ["ratio"] = 0.5, ["plan"] = "b", ["colour"] = "green" });
        var unknown = Predict(model, new() { ["count"] = 1, ["ratio"] = null, ["plan"] = "z", ["colour"] = "purple" });

        Assert.Multiple(() =>
        {
            Assert.That(green.Value, Is.EqualTo(3 + 0.5 + 2 + 20).Within(1e-5));
            Assert.That(unknown.Value, Is.Null, "a null double stays missing: the graph answers NaN, served as no value");
        });
    }

    [Test]
    public void Predict_WhenAnIntegerInputGetsNullOrAFraction_RefusesNamingTheColumn()
    {
        var model = Load(OnnxGraphs.Mixed(), new RegisterOnnxRequest("m", "1.0.0", ModelTask.Regression, MixedColumns, MixedSignature));

        Dictionary<string, object?> Row(object? count) => new() { ["count"] = count, ["ratio"] = 1, ["plan"] = "a", ["colour"] = "red" };

        var missing = Assert.Throws<ModuleException>(() => Predict(model, Row(null)))!;
        var fraction = Assert.Throws<ModuleException>(() => Predict(model, Row(1.5)))!;

        Assert.Multiple(() =>
        {
            Assert.That(missing.Kind, Is.EqualTo(ErrorKind.Invalid));
            Assert.That(missing.Errors.Keys, Is.EqualTo(new[] { "count" }));
            Assert.That(fraction.Message, Does.Contain("whole numbers").And.Contain("1.5"));
        });
    }

    [Test]
    public void Predict_WhenTheGraphEndsInAZipMap_NamesTheProbabilitiesByClassAndPicksTheLabel()
    {
        // Class 3 scores a, class 5 scores b, class 7 scores -(a + b).
        var model = Load(
            OnnxGraphs.Sklearn([1, 0, 0, 1, -1, -1], [0, 0, 0], [3, 5, 7]),
            new RegisterOnnxRequest("m", "1.0.0", Columns: [new("a", ColumnKind.Numeric), new("b", ColumnKind.Numeric)]));

        var b = Predict(model, new() { ["a"] = 0, ["b"] = 4 });
        var compact = Compact(model, new() { ["a"] = 0, ["b"] = 4 });
        var neither = Predict(model, new() { ["a"] = -2, ["b"] = -2 });

        Assert.Multiple(() =>
        {
            Assert.That(b.Label, Is.EqualTo("5"));
            Assert.That(b.Probabilities!.Keys, Is.EqualTo(new[] { "3", "5", "7" }));
            Assert.That(b.Probabilities.Values.Sum(), Is.EqualTo(1).Within(1e-5));
            Assert.That(b.Score, Is.EqualTo(b.Probabilities["5"]).Within(1e-6));
            Assert.That((compact.Label, compact.Score), Is.EqualTo((b.Label, b.Score)));
            Assert.That(neither.Label, Is.EqualTo("7"));
        });
    }

    [Test]
    public void Predict_WhenATwoClassGraphGivesALabelAndProbabilities_AnswersTrueForTheSecondClass()
    {
        var model = Load(
            OnnxGraphs.Sklearn([-1, 1], [0, 0], [0, 1], zipMap: false),
            new RegisterOnnxRequest("m", "1.0.0", Columns: [new("a", ColumnKind.Numeric)]));

        var high = Predict(model, new() { ["a"] = 3 });
        var low = Predict(model, new() { ["a"] = -3 });

        Assert.Multiple(() =>
        {
            Assert.That(model.Task, Is.EqualTo(ModelTask.BinaryClassification));
            Assert.That(high.Label, Is.EqualTo("true"));
            Assert.That(high.Probabilities!["true"], Is.GreaterThan(0.99));
            Assert.That(low.Label, Is.EqualTo("false"));
            Assert.That(low.Probabilities!["true"], Is.LessThan(0.01));
        });
    }

    [Test]
    public void PredictChunk_OnAnOnnxVersion_ScoresTheChunkInOneRun()
    {
        var model = Load(
            OnnxGraphs.RowsInRun(),
            new RegisterOnnxRequest("m", "1.0.0", ModelTask.Regression, [new("x", ColumnKind.Numeric)]));
        var rows = Enumerable.Range(0, 5)
            .Select(i => InputNormalizer.Normalize(model.Bindings, new Dictionary<string, object?> { ["x"] = i }))
            .ToArray();
        var answers = new Prediction[rows.Length];

        using (var engine = model.Lease())
        {
            engine.PredictChunk(rows, answers);
        }

        Assert.Multiple(() =>
        {
            Assert.That(model.ScoresChunks, Is.True);
            Assert.That(answers.Select(a => a.Value), Is.All.EqualTo(5), "every row saw a run of five");
            Assert.That(model.Predict(rows[0].Floats, rows[0].Texts).Value, Is.EqualTo(1));
        });
    }

    [Test]
    public void Load_WhenAnOutputIgnoresTheBatch_Refuses422NamingTheOutputs()
    {
        // One sum over every row: a [1,1] answer whatever the number of rows.
        var graph = new OnnxGraphBuilder()
            .Input("x", global::Onnx.TensorProto.Types.DataType.Float, -1, 1)
            .Node("ReduceSum", ["x"], ["Score.output"], OnnxGraphBuilder.Int("keepdims", 1))
            .Output("Score.output", global::Onnx.TensorProto.Types.DataType.Float, -1, 1)
            .Build();

        var error = Assert.Throws<ModuleException>(() => Load(
            graph,
            new RegisterOnnxRequest("m", "1.0.0", ModelTask.Regression, [new("x", ColumnKind.Numeric)])))!;

        Assert.Multiple(() =>
        {
            Assert.That(error.Kind, Is.EqualTo(ErrorKind.Unprocessable));
            Assert.That(error.Errors.Keys, Is.EqualTo(new[] { "signature.outputs" }));
            Assert.That(error.Message, Does.Contain("'Score.output' gave 1 values for 2 rows"));
        });
    }

    [Test]
    public void Lease_WhenEverySessionIsRented_WaitsForOneInsteadOfMakingMore()
    {
        var model = Load(
            OnnxGraphs.RowsInRun(),
            new RegisterOnnxRequest("m", "1.0.0", ModelTask.Regression, [new("x", ColumnKind.Numeric)]),
            new ModelOptions.OnnxOptions { SessionsPerModel = 2 });
        var backend = (OnnxBackend)model.Backend;

        var first = model.Lease();
        var second = model.Lease();
        var third = Task.Run(model.Lease);
        var waited = !third.Wait(TimeSpan.FromMilliseconds(200));
        first.Dispose();
        var granted = third.Wait(TimeSpan.FromSeconds(30));

        Assert.Multiple(() =>
        {
            Assert.That(waited, Is.True, "a third lease waits while both sessions are out");
            Assert.That(granted, Is.True, "and gets the session handed back");
            Assert.That(backend.Sessions, Is.EqualTo(2));
        });
        second.Dispose();
        third.Result.Dispose();
    }

    [Test]
    public void Retire_WhileASessionIsRented_DisposesTheIdleOnesNowAndTheRentedOneWhenReturned()
    {
        var model = Load(
            OnnxGraphs.RowsInRun(),
            new RegisterOnnxRequest("m", "1.0.0", ModelTask.Regression, [new("x", ColumnKind.Numeric)]),
            new ModelOptions.OnnxOptions { SessionsPerModel = 2 });
        var backend = (OnnxBackend)model.Backend;
        var rented = model.Lease();
        model.Lease().Dispose();

        backend.Retire();
        var whileRented = backend.Sessions;
        rented.Dispose();
        var afterReturn = backend.Sessions;
        var late = Compact(model, new() { ["x"] = 2 });

        Assert.Multiple(() =>
        {
            Assert.That(whileRented, Is.EqualTo(1), "the idle session is disposed at once");
            Assert.That(afterReturn, Is.Zero, "the rented one on its return");
            Assert.That(late.Value, Is.Not.Null, "a request that still holds the retired version is answered");
            Assert.That(backend.Sessions, Is.Zero, "by a session disposed after it");
        });
    }

    [Test]
    public void KeepOutputs_WithOneOfTwoOutputs_DropsTheOtherAndTheGraphStillRuns()
    {
        var graph = OnnxGraphs.Sklearn([1, -1, -1, 1], [0, 0], [0, 1], zipMap: false);

        var kept = OnnxGraph.KeepOutputs(graph, ["probabilities"]);
        using var session = OnnxSessions.Create(kept, new ModelOptions.OnnxOptions());

        Assert.Multiple(() =>
        {
            Assert.That(OnnxGraph.Parse(graph).Graph.Output.Select(o => o.Name), Is.EquivalentTo(new[] { "label", "probabilities" }));
            Assert.That(session.OutputMetadata.Keys, Is.EqualTo(new[] { "probabilities" }));
            Assert.That(OnnxGraph.KeepOutputs(graph, ["label", "probabilities"]), Is.SameAs(graph), "nothing to drop: the file as it is");
        });
    }

    [Test]
    public void Create_WhenCudaIsConfiguredButNotInTheNativeLibrary_FailsNamingTheSetting()
    {
        Assume.That(OnnxSessions.AvailableProviders, Does.Not.Contain(OnnxSessions.CudaProvider), "this build has CUDA");

        var error = Assert.Throws<ModuleException>(() => OnnxSessions.Create(
            OnnxGraphs.RowsInRun(),
            new ModelOptions.OnnxOptions { ExecutionProvider = OnnxExecutionProvider.Cuda }))!;

        Assert.Multiple(() =>
        {
            Assert.That(error.Kind, Is.EqualTo(ErrorKind.Unavailable));
            Assert.That(error.Message, Does.Contain("Model:Onnx:ExecutionProvider").And.Contain("Microsoft.ML.OnnxRuntime.Gpu"));
        });
    }

    internal static LoadedModel Load(byte[] graph, RegisterOnnxRequest request, ModelOptions.OnnxOptions? options = null)
    {
        var resolved = OnnxSignaturesTests.Resolve(graph, request);
        var row = new ModelVersionRow
        {
            Name = request.Name,
            Version = request.Version,
            Task = resolved.Task.ToString(),
            SchemaJson = JsonSerializer.Serialize(resolved.Columns, RegistryJson.Options),
            Framework = "onnx",
            SignatureJson = JsonSerializer.Serialize(resolved.Signature, RegistryJson.Options),
        };
        using var stream = new MemoryStream(graph, writable: false);
        return LoadedModel.Load(row, stream, 1, options);
    }

    private static Prediction Predict(LoadedModel model, Dictionary<string, object?> inputs)
    {
        var input = InputNormalizer.Normalize(model.Bindings, inputs);
        return model.Predict(input.Floats, input.Texts);
    }

    private static CompactPrediction Compact(LoadedModel model, Dictionary<string, object?> inputs)
    {
        var input = InputNormalizer.Normalize(model.Bindings, inputs);
        using var engine = model.Lease();
        return engine.PredictCompact(input.Floats, input.Texts);
    }
}
