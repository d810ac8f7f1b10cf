using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Formanova.Tests.Model.Onnx;

/// <summary>
/// Builds ONNX graphs by hand on the ONNX protobuf classes, so a test knows every weight of the model it uploads and
/// can compute the answer itself. A dimension of -1 is the dynamic batch dimension (<c>N</c>).
/// </summary>
internal sealed class OnnxGraphBuilder
{
    /// <summary>The ONNX operator set the graphs use; Softmax normalises along one axis from 13 on.</summary>
    public const long Opset = 13;

    private const string BatchDimension = "N";

    private readonly GraphProto _graph = new() { Name = "formanova-test" };
    private readonly Dictionary<string, long> _opsets = new(StringComparer.Ordinal) { [""] = Opset };
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);
    private int _nodes;

    public OnnxGraphBuilder Input(string name, DataType type, params long[] dims)
    {
        _graph.Input.Add(ValueInfo(name, type, dims));
        return this;
    }

    public OnnxGraphBuilder Output(string name, DataType type, params long[] dims)
    {
        _graph.Output.Add(ValueInfo(name, type, dims));
        return this;
    }

    /// <summary>A float constant (weights, a bias) the nodes can name.</summary>
    public OnnxGraphBuilder Floats(string name, float[] values, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.FloatData.AddRange(values);
        _graph.Initializer.Add(tensor);
        return this;
    }

    /// <summary>An int64 constant (a shape, axes) the nodes can name.</summary>
    public OnnxGraphBuilder Int64s(string name, long[] values, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.Int64Data.AddRange(values);
        _graph.Initializer.Add(tensor);
        return this;
    }

    public OnnxGraphBuilder Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes) =>
        Node("", op, inputs, outputs, attributes);

    /// <summary>A node of another operator domain, such as <c>ai.onnx.ml</c> (imported at version 2 if not yet imported).</summary>
    public OnnxGraphBuilder Node(string domain, string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        _opsets.TryAdd(domain, domain == "ai.onnx.ml" ? 2 : 1);
        var node = new NodeProto { OpType = op, Domain = domain, Name = $"{op}_{_nodes++}" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return this;
    }

    /// <summary>A <c>metadata_props</c> entry of the model.</summary>
    public OnnxGraphBuilder Metadata(string key, string value)
    {
        _metadata[key] = value;
        return this;
    }

    public ModelProto Build()
    {
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "Formanova.Tests",
            ProducerVersion = "1",
            Graph = _graph.Clone(),
        };
        model.OpsetImport.AddRange(_opsets.Select(o => new OperatorSetIdProto { Domain = o.Key, Version = o.Value }));
        model.MetadataProps.AddRange(_metadata.Select(m => new StringStringEntryProto { Key = m.Key, Value = m.Value }));
        return model;
    }

    public byte[] ToBytes() => Build().ToByteArray();

    public static AttributeProto Attribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Attribute(string name, params string[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Strings };
        attribute.Strings.AddRange(values.Select(ByteString.CopyFromUtf8));
        return attribute;
    }

    public static AttributeProto Attribute(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    private static ValueInfoProto ValueInfo(string name, DataType type, long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims.Select(d => d < 0
            ? new TensorShapeProto.Types.Dimension { DimParam = BatchDimension }
            : new TensorShapeProto.Types.Dimension { DimValue = d }));
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
