namespace Formanova.Modules.Model;

/// <summary>What a version's artifact is: an ML.NET model zip, an ONNX graph, or an ensemble of other versions.</summary>
public enum ModelFramework
{
    Mlnet,
    Onnx,
    Ensemble,
}

/// <summary>The element types an ONNX input tensor may have for Formanova to feed it from registry columns.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "The names of ONNX's tensor element types.")]
public enum OnnxElementType
{
    Float,
    Double,
    Int64,
    Int32,
    Bool,
    String,
}

/// <summary>
/// One graph input and the registry columns it carries. With one column the tensor is <c>[N]</c> or <c>[N,1]</c>
/// (or <c>[N,C]</c> for a categorical column fed one-hot); with several they are packed along the last axis in the
/// order given, <c>[N,k]</c>. <see cref="Categories"/> lists, per categorical column fed one-hot, its categories in
/// the order of the tensor's positions (a value outside the list is all zeros). <see cref="Shape"/> is the graph's,
/// with -1 for a free dimension.
/// </summary>
public sealed record OnnxInputBinding(
    string Name,
    OnnxElementType ElementType,
    IReadOnlyList<long> Shape,
    IReadOnlyList<string> Columns,
    IReadOnlyDictionary<string, IReadOnlyList<string>>? Categories = null);

/// <summary>
/// The graph outputs a prediction reads: <see cref="Label"/> (a bool, int64 or string tensor), <see cref="Score"/>
/// (a float tensor: one value per row, or one per class), <see cref="Probabilities"/> (a float tensor, one per class
/// or the positive class's alone, or a sequence of maps from a ZipMap), and the <see cref="Classes"/> in the order of
/// the score and probability columns. At least one output must be named.
/// </summary>
public sealed record OnnxOutputBinding(
    string? Label = null,
    string? Score = null,
    string? Probabilities = null,
    IReadOnlyList<string>? Classes = null);

/// <summary>How an ONNX version's graph maps to the registry's columns and to a prediction (docs/model.md).</summary>
public sealed record OnnxSignature(IReadOnlyList<OnnxInputBinding> Inputs, OnnxOutputBinding Outputs);

/// <summary>
/// Registers an ONNX graph as a version. <see cref="Task"/>, <see cref="Columns"/> and <see cref="Signature"/> may be
/// left out where the graph, or the Formanova metadata an exported graph carries (<see cref="OnnxMetadataKeys"/>),
/// says enough; what cannot be read is refused naming the field.
/// </summary>
public sealed record RegisterOnnxRequest(
    string Name,
    string Version,
    ModelTask? Task = null,
    IReadOnlyList<ModelColumn>? Columns = null,
    OnnxSignature? Signature = null,
    string Trainer = "uploaded",
    ModelLineage? Lineage = null,
    IReadOnlyDictionary<string, string>? Tags = null,
    string? Notes = null,
    IReadOnlyDictionary<string, double>? Metrics = null,
    ModelInputContract? Contract = null);
