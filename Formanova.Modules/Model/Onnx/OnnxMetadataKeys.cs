namespace Formanova.Modules.Model;

/// <summary>
/// The keys of an ONNX model's <c>metadata_props</c> that Formanova writes on export and reads on upload, so an
/// exported version uploads back with nothing but its version number. Every value is a string; the JSON ones use the
/// API's camelCase names.
/// </summary>
internal static class OnnxMetadataKeys
{
    /// <summary>The task, as the API names it (<c>binaryClassification</c>, <c>multiclassClassification</c>, <c>regression</c>).</summary>
    public const string Task = "formanova.task";

    /// <summary>JSON list of <see cref="ModelColumn"/>: the feature columns (and the label, marked).</summary>
    public const string Columns = "formanova.columns";

    /// <summary>JSON <see cref="OnnxSignature"/>.</summary>
    public const string Signature = "formanova.signature";

    /// <summary>JSON <see cref="ModelInputContract"/>, when the version has one.</summary>
    public const string InputContract = "formanova.inputContract";

    /// <summary><c>name@version</c> of the version the graph was exported from.</summary>
    public const string Source = "formanova.source";
}
