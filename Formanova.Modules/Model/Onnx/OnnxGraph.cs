using Formanova.Modules.Shared.Errors;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Formanova.Modules.Model.Onnx;

internal enum GraphValueKind
{
    Tensor,
    Sequence,
    Other,
}

/// <summary>
/// A graph input or output as ONNX Runtime reports it. <see cref="ElementType"/> is null for a tensor of a type
/// Formanova cannot feed or read (<see cref="TypeName"/> says which); <see cref="Shape"/> has -1 for a free dimension.
/// </summary>
internal sealed record GraphValue(string Name, GraphValueKind Kind, OnnxElementType? ElementType, string TypeName, long[] Shape)
{
    public string Describe() => Kind == GraphValueKind.Tensor
        ? $"{TypeName} [{string.Join(",", Shape)}]"
        : Kind.ToString().ToLowerInvariant();
}

/// <summary>What an ONNX file says about itself: opset, Formanova metadata, class labels, inputs and outputs.</summary>
internal sealed class OnnxGraph
{
    private static readonly string[] ClassifierOps = ["ZipMap", "LinearClassifier", "TreeEnsembleClassifier", "SVMClassifier"];

    private OnnxGraph(
        int? opset,
        IReadOnlyDictionary<string, string> metadata,
        IReadOnlyList<string>? classes,
        IReadOnlyList<GraphValue> inputs,
        IReadOnlyList<GraphValue> outputs)
    {
        Opset = opset;
        Metadata = metadata;
        Classes = classes;
        Inputs = inputs;
        Outputs = outputs;
    }

    /// <summary>
    /// <paramref name="model"/> with only the graph outputs in <paramref name="keep"/>. ONNX Runtime runs every node
    /// that feeds a graph output, whether a run asks for it or not, and an ML.NET export declares every column of the
    /// pipeline an output: dropping the ones no prediction reads halves a single row's run on the exported churn model.
    /// </summary>
    public static byte[] KeepOutputs(byte[] model, IReadOnlyCollection<string> keep)
    {
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(model);
        var unread = proto.Graph.Output.Where(o => !keep.Contains(o.Name)).ToList();
        if (unread.Count == 0 || unread.Count == proto.Graph.Output.Count)
        {
            return model;
        }

        foreach (var output in unread)
        {
            proto.Graph.Output.Remove(output);
        }

        return proto.ToByteArray();
    }

    /// <summary>The opset of the default domain (<c>ai.onnx</c>), if the file imports it.</summary>
    public int? Opset { get; }

    /// <summary>The model's <c>metadata_props</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The class labels a classifier node or ZipMap of the graph declares, in order.</summary>
    public IReadOnlyList<string>? Classes { get; }

    public IReadOnlyList<GraphValue> Inputs { get; }

    public IReadOnlyList<GraphValue> Outputs { get; }

    public GraphValue? Input(string name) => Inputs.FirstOrDefault(i => i.Name == name);

    public GraphValue? Output(string name) => Outputs.FirstOrDefault(o => o.Name == name);

    /// <summary>The file's protobuf (see <see cref="Parse"/>) with the session's view of its inputs and outputs.</summary>
    public static OnnxGraph Read(global::Onnx.ModelProto proto, InferenceSession session)
    {
        var metadata = proto.MetadataProps.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);
        return new OnnxGraph(
            OpsetOf(proto),
            metadata,
            ClassLabels(proto.Graph),
            [.. session.InputMetadata.Select(m => Describe(m.Key, m.Value))],
            [.. session.OutputMetadata.Select(m => Describe(m.Key, m.Value))]);
    }

    /// <summary>The ONNX protobuf of <paramref name="model"/>, or 422 naming <c>model</c>.</summary>
    public static global::Onnx.ModelProto Parse(byte[] model)
    {
        try
        {
            var proto = global::Onnx.ModelProto.Parser.ParseFrom(model);
            return proto.Graph is null || proto.IrVersion <= 0
                ? throw Unloadable("The file is neither an ML.NET model zip nor an ONNX model (it has no graph or IR version).")
                : proto;
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw Unloadable($"The file is neither an ML.NET model zip nor an ONNX model ({ex.Message}).", ex);
        }
    }

    /// <summary>The opset of the default domain (<c>ai.onnx</c>), if the file imports it.</summary>
    public static int? OpsetOf(global::Onnx.ModelProto proto) =>
        proto.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => (int?)o.Version).FirstOrDefault();

    public static ModuleException Unloadable(string reason, Exception? inner = null) =>
        new(ErrorKind.Unprocessable, reason, new Dictionary<string, string[]> { ["model"] = [reason] }, inner);

    private static GraphValue Describe(string name, NodeMetadata metadata)
    {
        if (metadata.OnnxValueType == OnnxValueType.ONNX_TYPE_SEQUENCE)
        {
            return new GraphValue(name, GraphValueKind.Sequence, null, "sequence", []);
        }

        if (metadata.OnnxValueType != OnnxValueType.ONNX_TYPE_TENSOR)
        {
            return new GraphValue(name, GraphValueKind.Other, null, metadata.OnnxValueType.ToString(), []);
        }

        OnnxElementType? element = metadata.ElementDataType switch
        {
            TensorElementType.Float => OnnxElementType.Float,
            TensorElementType.Double => OnnxElementType.Double,
            TensorElementType.Int64 => OnnxElementType.Int64,
            TensorElementType.Int32 => OnnxElementType.Int32,
            TensorElementType.Bool => OnnxElementType.Bool,
            TensorElementType.String => OnnxElementType.String,
            _ => null,
        };
        var typeName = element?.ToString().ToLowerInvariant() ?? metadata.ElementDataType.ToString().ToLowerInvariant();
        return new GraphValue(name, GraphValueKind.Tensor, element, typeName, [.. metadata.Dimensions.Select(d => (long)d)]);
    }

    private static List<string>? ClassLabels(global::Onnx.GraphProto graph)
    {
        foreach (var node in graph.Node.Where(n => ClassifierOps.Contains(n.OpType)))
        {
            foreach (var attribute in node.Attribute)
            {
                switch (attribute.Name)
                {
                    case "classlabels_strings" when attribute.Strings.Count > 0:
                        return [.. attribute.Strings.Select(s => s.ToStringUtf8())];
                    case "classlabels_int64s" or "classlabels_ints" when attribute.Ints.Count > 0:
                        return [.. attribute.Ints.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
                }
            }
        }

        return null;
    }
}
