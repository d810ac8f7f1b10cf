using System.Text.Json;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared.Errors;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.ML;
using Microsoft.ML.Data;
using Onnx;

namespace Formanova.Modules.Model.Onnx;

/// <summary>
/// Converts an ML.NET version to ONNX with ML.NET's own converter, once: the graph, with the Formanova metadata written
/// into it (<see cref="OnnxMetadataKeys"/>), is kept beside the version's artifact under a name holding the artifact's
/// SHA-256, and every later export reads it. Where a transform of the pipeline does not convert, the export is a 409
/// naming it and its column.
/// </summary>
internal sealed class OnnxExporter(ModelRegistry registry, ILogger<OnnxExporter> logger) : IDisposable
{
    /// <summary>ML.NET names every graph output after its column with this suffix.</summary>
    private const string OutputSuffix = ".output";

    private static readonly JsonSerializerOptions MetadataJson = new(RegistryJson.Options) { WriteIndented = false };

    // Names as the ML.NET catalog calls the transforms a Formanova pipeline is made of; others go by their type.
    private static readonly Dictionary<string, string> TransformNames = new(StringComparer.Ordinal)
    {
        ["Microsoft.ML.Transforms.Text.TextFeaturizingEstimator+Transformer"] = "FeaturizeText",
        ["Microsoft.ML.Transforms.OneHotEncodingTransformer"] = "OneHotEncoding",
        ["Microsoft.ML.Transforms.MissingValueReplacingTransformer"] = "ReplaceMissingValues",
        ["Microsoft.ML.Data.ColumnConcatenatingTransformer"] = "Concatenate",
        ["Microsoft.ML.Transforms.NormalizingTransformer"] = "Normalize",
    };

    // One conversion at a time: each is CPU-bound, and a request waiting here for the same version then reads the
    // stored graph instead of converting it again.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private long _conversions;

    /// <summary>Conversions run by this instance; an export served from the stored graph does not count.</summary>
    public long Conversions => Interlocked.Read(ref _conversions);

    /// <summary>The stored graph's file name: a new artifact under the same version never reads an old conversion.</summary>
    public static string FileName(ModelVersionRow row) => $"model.{row.Sha256}.onnx";

    /// <summary>The version's ONNX graph: the stored conversion, or a new one (then stored).</summary>
    public async Task<Stream> OpenAsync(ModelVersionRow row, CancellationToken cancellationToken)
    {
        var fileName = FileName(row);
        if (await registry.OpenDerivedFileAsync(row, fileName, cancellationToken) is { } stored)
        {
            return stored;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (await registry.OpenDerivedFileAsync(row, fileName, cancellationToken) is { } converted)
            {
                return converted;
            }

            var zip = await registry.EnsureLocalAsync(row, cancellationToken);
            var graph = Convert(row, zip);
            Interlocked.Increment(ref _conversions);
            await registry.SaveDerivedFileAsync(row, fileName, graph, cancellationToken);
            logger.LogInformation("Converted model {Model} {Version} to ONNX ({Bytes} bytes)", row.Name, row.Version, graph.Length);
            return new MemoryStream(graph, writable: false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();

    /// <summary>The ONNX graph of an ML.NET model zip, with the version's Formanova metadata in its <c>metadata_props</c>.</summary>
    internal static byte[] Convert(ModelVersionRow row, string zipPath)
    {
        var schema = ModelSchema.Validate([.. row.Columns.Where(c => !c.IsLabel)], row.ModelTask, requireLabel: false, int.MaxValue);
        var ml = new MLContext();
        ITransformer model;
        using (var zip = File.OpenRead(zipPath))
        {
            model = ml.Model.Load(zip, out _);
        }

        var input = TrainingTable.Features(schema);
        ModelProto graph;
        try
        {
            graph = ModelProto.Parser.ParseFrom(ConvertToOnnx(ml, model, input));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw NotConvertible(row, ml, model, input, ex);
        }

        var outputs = Outputs(row.ModelTask, graph, model.GetOutputSchema(input.Schema))
            ?? throw NotConvertible(row, ml, model, input, null);
        var signature = new OnnxSignature(Inputs(row, schema, graph), outputs);
        AddMetadata(graph, OnnxMetadataKeys.Task, JsonNamingPolicy.CamelCase.ConvertName(row.ModelTask.ToString()));
        AddMetadata(graph, OnnxMetadataKeys.Columns, JsonSerializer.Serialize(row.Columns, MetadataJson));
        AddMetadata(graph, OnnxMetadataKeys.Signature, JsonSerializer.Serialize(signature, MetadataJson));
        if (row.InputContract is { } contract)
        {
            AddMetadata(graph, OnnxMetadataKeys.InputContract, JsonSerializer.Serialize(contract, MetadataJson));
        }

        AddMetadata(graph, OnnxMetadataKeys.Source, $"{row.Name}@{row.Version}");
        return graph.ToByteArray();
    }

    private static byte[] ConvertToOnnx(MLContext ml, ITransformer model, IDataView input)
    {
        using var buffer = new MemoryStream();
        ml.Model.ConvertToOnnx(model, input, buffer);
        return buffer.ToArray();
    }

    /// <summary>One input per feature column, as ML.NET names it (the column's name), with the graph's type and shape.</summary>
    private static List<OnnxInputBinding> Inputs(ModelVersionRow row, ModelSchema schema, ModelProto graph)
    {
        var inputs = graph.Graph.Input.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var bindings = new List<OnnxInputBinding>();
        foreach (var column in schema.Features)
        {
            if (!inputs.TryGetValue(column.Name, out var input) || input.Type.TensorType is not { } tensor)
            {
                throw new ModuleException(
                    ErrorKind.Conflict,
                    $"{row.Name} {row.Version}: ML.NET's ONNX graph has no tensor input for column '{column.Name}'.");
            }

            var type = (TensorProto.Types.DataType)tensor.ElemType switch
            {
                TensorProto.Types.DataType.Float => OnnxElementType.Float,
                TensorProto.Types.DataType.String => OnnxElementType.String,
                var other => throw new ModuleException(
                    ErrorKind.Conflict,
                    $"{row.Name} {row.Version}: ML.NET's ONNX graph takes column '{column.Name}' as {other}, not float or string."),
            };
            bindings.Add(new OnnxInputBinding(
                column.Name,
                type,
                [.. tensor.Shape.Dim.Select(d => d.HasDimValue ? d.DimValue : -1)],
                [column.Name]));
        }

        return bindings;
    }

    /// <summary>
    /// The outputs a prediction reads, as the served ML.NET version reads its columns; null when the graph lacks one
    /// (the converter stopped at a transform it could not convert).
    /// </summary>
    private static OnnxOutputBinding? Outputs(ModelTask task, ModelProto graph, DataViewSchema mlnet)
    {
        var names = graph.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        string? Output(string column) => names.Contains(column + OutputSuffix) ? column + OutputSuffix : null;
        var score = Output("Score");
        if (score is null)
        {
            return null;
        }

        switch (task)
        {
            case ModelTask.BinaryClassification:
                var label = Output("PredictedLabel");
                return label is null ? null : new OnnxOutputBinding(label, score, Output("Probability"));
            case ModelTask.MulticlassClassification:
                // The predicted label is a key (uint32) in the graph: the label is the class of the highest score, as
                // the served ML.NET version picks it, and the scores are its probabilities.
                VBuffer<ReadOnlyMemory<char>> classes = default;
                var scores = mlnet["Score"];
                if (scores.HasSlotNames())
                {
                    scores.GetSlotNames(ref classes);
                }

                string[] classNames = [.. classes.DenseValues().Select(c => c.ToString())];
                return new OnnxOutputBinding(null, score, score, classNames.Length > 0 ? classNames : null);
            default:
                return new OnnxOutputBinding(null, score);
        }
    }

    /// <summary>
    /// The 409 naming the first transform that does not convert: ML.NET does not say which one (its ICanSaveOnnx is
    /// internal), so growing prefixes of the flattened chain are converted until one throws or loses its own output.
    /// </summary>
    private static ModuleException NotConvertible(ModelVersionRow row, MLContext ml, ITransformer model, IDataView input, Exception? error)
    {
        var steps = Flatten(model).ToList();
        var before = input.Schema;
        for (var i = 0; i < steps.Count; i++)
        {
            var after = steps[i].GetOutputSchema(before);
            // A transform writes over its input column: the columns it made are the visible ones not in the schema before.
            var written = after.Where(c => !c.IsHidden && before.GetColumnOrNull(c.Name)?.Index != c.Index).Select(c => c.Name).ToList();
            if (!PrefixConverts(ml, new TransformerChain<ITransformer>([.. steps.Take(i + 1)]), input, written))
            {
                var (transform, column) = Describe(steps[i], written);
                return new ModuleException(
                    ErrorKind.Conflict,
                    $"{row.Name} {row.Version} does not convert to ONNX: ML.NET's converter cannot convert {transform} on column "
                    + $"'{column}'. Train the version without it (for a text column: leave the column out) to export it.",
                    inner: error)
                {
                    Extensions = new Dictionary<string, object?> { ["transform"] = transform, ["column"] = column },
                };
            }

            before = after;
        }

        return new ModuleException(
            ErrorKind.Conflict,
            $"{row.Name} {row.Version} does not convert to ONNX: {error?.Message ?? "the graph lacks the prediction outputs."}",
            inner: error);
    }

    private static bool PrefixConverts(MLContext ml, ITransformer prefix, IDataView input, IReadOnlyList<string> written)
    {
        try
        {
            var outputs = ModelProto.Parser.ParseFrom(ConvertToOnnx(ml, prefix, input)).Graph.Output
                .Select(o => o.Name)
                .ToHashSet(StringComparer.Ordinal);
            return written.All(c => outputs.Contains(c + OutputSuffix));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return false;
        }
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer transformer) =>
        transformer is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [transformer];

    /// <summary>The transform as the ML.NET catalog names it (or the trainer's model type), and the column it reads or writes.</summary>
    private static (string Transform, string Column) Describe(ITransformer transformer, IReadOnlyList<string> written)
    {
        var type = transformer.GetType();
        var predictor = type.GetInterfaces()
            .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(ISingleFeaturePredictionTransformer<>));
        if (predictor is not null)
        {
            var parameters = type.GetProperty("Model")?.GetValue(transformer)?.GetType();
            // A calibrated model wraps the trainer's own: name that one.
            var trained = parameters is { IsGenericType: true } ? parameters.GetGenericArguments()[0] : parameters;
            var feature = (string?)predictor.GetProperty(nameof(ISingleFeaturePredictionTransformer<object>.FeatureColumnName))
                ?.GetValue(transformer);
            return ($"the trainer's model {Plain(trained ?? type)}", feature ?? "Features");
        }

        var name = TransformNames.TryGetValue(type.FullName ?? "", out var known)
            ? known
            : Plain(type.IsNested && type.Name == "Transformer" ? type.DeclaringType! : type);
        return (name, string.Join("', '", written));
    }

    private static string Plain(Type type)
    {
        var tick = type.Name.IndexOf('`', StringComparison.Ordinal);
        return tick < 0 ? type.Name : type.Name[..tick];
    }

    private static void AddMetadata(ModelProto graph, string key, string value)
    {
        var existing = graph.MetadataProps.FirstOrDefault(p => p.Key == key);
        if (existing is not null)
        {
            graph.MetadataProps.Remove(existing);
        }

        graph.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
    }
}
