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

    private static OnnxGraphBuilder With(this OnnxGraphBuilder builder, Action<OnnxGraphBuilder> add)
    {
        add(builder);
        return builder;
    }
}
