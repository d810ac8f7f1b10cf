using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Formanova.Tests.Model.Onnx;

/// <summary>
/// Builds ONNX models by hand from the ONNX protobuf definitions, so tests control every input, output, type and
/// shape. A dimension of -1 is a free one (the batch).
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private readonly ModelProto _model;
    private readonly GraphProto _graph = new() { Name = "test" };

    public OnnxGraphBuilder(int opset = 13, int? mlOpset = null)
    {
        _model = new ModelProto { IrVersion = 8, ProducerName = "formanova-tests", Graph = _graph };
        _model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        if (mlOpset is { } ml)
        {
            _model.OpsetImport.Add(new OperatorSetIdProto { Domain = "ai.onnx.ml", Version = ml });
        }
    }

    public OnnxGraphBuilder Input(string name, DataType type, params long[] dims)
    {
        _graph.Input.Add(Tensor(name, type, dims));
        return this;
    }

    public OnnxGraphBuilder Output(string name, DataType type, params long[] dims)
    {
        _graph.Output.Add(Tensor(name, type, dims));
        return this;
    }

    /// <summary>A ZipMap-style output: a sequence of maps from class (int64 or string) to float.</summary>
    public OnnxGraphBuilder MapsOutput(string name, DataType keyType)
    {
        var value = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float } };
        var map = new TypeProto { MapType = new TypeProto.Types.Map { KeyType = (int)keyType, ValueType = value } };
        var sequence = new TypeProto { SequenceType = new TypeProto.Types.Sequence { ElemType = map } };
        _graph.Output.Add(new ValueInfoProto { Name = name, Type = sequence });
        return this;
    }

    public OnnxGraphBuilder Floats(string name, float[] values, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.FloatData.AddRange(values);
        _graph.Initializer.Add(tensor);
        return this;
    }

    public OnnxGraphBuilder Longs(string name, long[] values, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.Int64Data.AddRange(values);
        _graph.Initializer.Add(tensor);
        return this;
    }

    public OnnxGraphBuilder Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes) =>
        DomainNode("", op, inputs, outputs, attributes);

    public OnnxGraphBuilder DomainNode(string domain, string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Domain = domain, Name = $"{op}_{_graph.Node.Count}" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return this;
    }

    public OnnxGraphBuilder Metadata(string key, string value)
    {
        _model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return this;
    }

    public byte[] Build() => _model.ToByteArray();

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    public static AttributeProto Floats(string name, params float[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        attribute.Floats.AddRange(values);
        return attribute;
    }

    public static AttributeProto Text(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Strings(string name, params string[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Strings };
        attribute.Strings.AddRange(values.Select(ByteString.CopyFromUtf8));
        return attribute;
    }

    private static ValueInfoProto Tensor(string name, DataType type, long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim < 0
                ? new TensorShapeProto.Types.Dimension { DimParam = "N" }
                : new TensorShapeProto.Types.Dimension { DimValue = dim });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}

/// <summary>Ready-made graphs for the ONNX tests.</summary>
internal static class OnnxGraphs
{
    /// <summary>
    /// A linear regression in ML.NET's export convention: one <c>[-1,1]</c> float input per column, and
    /// <c>Score.output = bias + Σ weight × column</c>.
    /// </summary>
    public static byte[] LinearPerColumn(string[] columns, float[] weights, float bias, string output = "Score.output") =>
        new OnnxGraphBuilder()
            .With(b => Array.ForEach(columns, c => b.Input(c, DataType.Float, -1, 1)))
            .Floats("W", weights, weights.Length, 1)
            .Floats("B", [bias], 1)
            .Node("Concat", columns, ["features"], OnnxGraphBuilder.Int("axis", 1))
            .Node("MatMul", ["features", "W"], ["product"])
            .Node("Add", ["product", "B"], [output])
            .Output(output, DataType.Float, -1, 1)
            .Build();

    /// <summary>The same linear regression over one packed float input <c>[-1,k]</c> named <paramref name="input"/>.</summary>
    public static byte[] LinearPacked(string input, float[] weights, float bias, string output = "variable") =>
        new OnnxGraphBuilder()
            .Input(input, DataType.Float, -1, weights.Length)
            .Floats("W", weights, weights.Length, 1)
            .Floats("B", [bias], 1)
            .Node("MatMul", [input, "W"], ["product"])
            .Node("Add", ["product", "B"], [output])
            .Output(output, DataType.Float, -1, 1)
            .Build();

    /// <summary>
    /// A regression whose every answer is the number of rows in the run (<c>Shape(x)[0]</c>), to tell one run over a
    /// chunk from a run per row.
    /// </summary>
    public static byte[] RowsInRun(string input = "x") =>
        new OnnxGraphBuilder()
            .Input(input, DataType.Float, -1, 1)
            .Floats("zero", [0f], 1)
            .Longs("first", [0], 1)
            .Node("Mul", [input, "zero"], ["zeros"])
            .Node("Shape", [input], ["shape"])
            .Node("Gather", ["shape", "first"], ["count"], OnnxGraphBuilder.Int("axis", 0))
            .Node("Cast", ["count"], ["countFloat"], OnnxGraphBuilder.Int("to", (long)DataType.Float))
            .Node("Add", ["zeros", "countFloat"], ["Score.output"])
            .Output("Score.output", DataType.Float, -1, 1)
            .Build();

    /// <summary>
    /// A binary classifier in ML.NET's export convention: inputs <paramref name="columns"/> ([-1,1] float), and
    /// <c>Score.output = Σ weight × column</c>, <c>Probability.output = sigmoid(score)</c>, <c>PredictedLabel.output =
    /// score &gt; 0</c>, plus a pass-through <c>{first column}.output</c> that the inference must leave alone.
    /// </summary>
    public static byte[] BinaryPerColumn(string[] columns, float[] weights) =>
        new OnnxGraphBuilder()
            .With(b => Array.ForEach(columns, c => b.Input(c, DataType.Float, -1, 1)))
            .Floats("W", weights, weights.Length, 1)
            .Floats("zero", [0f], 1)
            .Node("Concat", columns, ["features"], OnnxGraphBuilder.Int("axis", 1))
            .Node("MatMul", ["features", "W"], ["Score.output"])
            .Node("Sigmoid", ["Score.output"], ["Probability.output"])
            .Node("Greater", ["Score.output", "zero"], ["PredictedLabel.output"])
            .Node("Identity", [columns[0]], [columns[0] + ".output"])
            .Output(columns[0] + ".output", DataType.Float, -1, 1)
            .Output("PredictedLabel.output", DataType.Bool, -1, 1)
            .Output("Score.output", DataType.Float, -1, 1)
            .Output("Probability.output", DataType.Float, -1, 1)
            .Build();

    /// <summary>
    /// A scikit-learn logistic regression as skl2onnx converts it: one packed <c>float_input</c> [-1,k], a
    /// LinearClassifier with int class labels, and a ZipMap giving <c>output_probability</c> as a sequence of maps
    /// (or, with <paramref name="zipMap"/> false, <c>probabilities</c> as a [-1,C] tensor beside <c>label</c>).
    /// </summary>
    public static byte[] Sklearn(float[] coefficients, float[] intercepts, long[] classes, bool zipMap = true)
    {
        var width = coefficients.Length / classes.Length;
        var builder = new OnnxGraphBuilder(opset: 13, mlOpset: 1)
            .Input("float_input", DataType.Float, -1, width)
            .DomainNode(
                "ai.onnx.ml",
                "LinearClassifier",
                ["float_input"],
                [zipMap ? "output_label" : "label", "probabilities"],
                OnnxGraphBuilder.Floats("coefficients", coefficients),
                OnnxGraphBuilder.Floats("intercepts", intercepts),
                OnnxGraphBuilder.Ints("classlabels_ints", classes),
                OnnxGraphBuilder.Text("post_transform", "SOFTMAX"))
            .Output(zipMap ? "output_label" : "label", DataType.Int64, -1);
        return zipMap
            ? builder
                .DomainNode(
                    "ai.onnx.ml",
                    "ZipMap",
                    ["probabilities"],
                    ["output_probability"],
                    OnnxGraphBuilder.Ints("classlabels_int64s", classes))
                .MapsOutput("output_probability", DataType.Int64)
                .Build()
            : builder.Output("probabilities", DataType.Float, -1, classes.Length).Build();
    }

    /// <summary>
    /// A regression over every element type a column can feed: <c>count</c> int64, <c>ratio</c> double, <c>plan</c> a
    /// string (a → 1, b → 2, else 0) and <c>colour</c> one-hot [-1,3] weighted 10, 20, 30:
    /// <c>Score.output = count + ratio + plan + colour</c>.
    /// </summary>
    public static byte[] Mixed() =>
        new OnnxGraphBuilder(opset: 13, mlOpset: 2)
            .Input("count", DataType.Int64, -1, 1)
            .Input("ratio", DataType.Double, -1, 1)
            .Input("plan", DataType.String, -1, 1)
            .Input("colour", DataType.Float, -1, 3)
            .Floats("W", [10, 20, 30], 3, 1)
            .Node("Cast", ["count"], ["countFloat"], OnnxGraphBuilder.Int("to", (long)DataType.Float))
            .Node("Cast", ["ratio"], ["ratioFloat"], OnnxGraphBuilder.Int("to", (long)DataType.Float))
            .DomainNode(
                "ai.onnx.ml",
                "LabelEncoder",
                ["plan"],
                ["planFloat"],
                OnnxGraphBuilder.Strings("keys_strings", "a", "b"),
                OnnxGraphBuilder.Floats("values_floats", 1, 2),
                new AttributeProto { Name = "default_float", Type = AttributeProto.Types.AttributeType.Float, F = 0 })
            .Node("MatMul", ["colour", "W"], ["colourFloat"])
            .Node("Sum", ["countFloat", "ratioFloat", "planFloat", "colourFloat"], ["Score.output"])
            .Output("Score.output", DataType.Float, -1, 1)
            .Build();

    private static OnnxGraphBuilder With(this OnnxGraphBuilder builder, Action<OnnxGraphBuilder> add)
    {
        add(builder);
        return builder;
    }
}
