using System.Globalization;
using System.Text.Json;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Model.Onnx;

/// <summary>What an ONNX upload registers: the task, columns, signature and contract, given or read from the graph.</summary>
internal sealed record ResolvedOnnx(
    ModelTask Task,
    IReadOnlyList<ModelColumn> Columns,
    OnnxSignature Signature,
    ModelInputContract? Contract);

/// <summary>
/// Settles an ONNX upload's task, columns and signature: each as the request gives it, else as the graph's Formanova
/// metadata (<see cref="OnnxMetadataKeys"/>) gives it, else inferred from the graph by the conventions of ML.NET's
/// export (one input per column, <c>PredictedLabel.output</c>, <c>Score.output</c>, <c>Probability.output</c>) and
/// skl2onnx (<c>label</c>, <c>probabilities</c>, <c>variable</c>, one packed <c>float_input</c>). What cannot be
/// settled, or does not fit the graph, is refused naming the field.
/// </summary>
internal static class OnnxSignatures
{
    private static readonly string[] LabelNames = ["PredictedLabel.output", "label", "output_label"];
    private static readonly string[] ScoreNames = ["Score.output", "variable", "scores", "score"];
    private static readonly string[] ProbabilityNames = ["Probability.output", "probabilities", "output_probability", "probability"];

    public static ResolvedOnnx Resolve(RegisterOnnxRequest request, OnnxGraph graph, int maxColumns)
    {
        var task = request.Task ?? Metadata<ModelTask?>(graph, OnnxMetadataKeys.Task, json: false);
        var columns = request.Columns ?? Metadata<List<ModelColumn>>(graph, OnnxMetadataKeys.Columns);
        var contract = request.Contract ?? Metadata<ModelInputContract>(graph, OnnxMetadataKeys.InputContract);
        var signature = request.Signature ?? Metadata<OnnxSignature>(graph, OnnxMetadataKeys.Signature);
        columns ??= signature is null ? null : ColumnsOf(signature);
        var features = columns?.Where(c => c is not null && !c.IsLabel).ToList();

        signature ??= new OnnxSignature(InferInputs(graph, ref features), InferOutputs(graph));
        columns ??= features;
        task ??= InferTask(graph, signature.Outputs)
            ?? throw ModuleException.Invalid(
                "task",
                "The task cannot be read from the graph's outputs: give it (binaryClassification, multiclassClassification or "
                + "regression).");

        var schema = ModelSchema.Validate(columns, task.Value, requireLabel: false, maxColumns, ModelFramework.Onnx);
        var fitted = Fit(signature, graph, schema.Features);
        CheckOutputsFitTask(fitted.Outputs, graph, task.Value);
        return new ResolvedOnnx(task.Value, columns!, fitted, contract);
    }

    /// <summary>
    /// The rank-2 shape of an input: <c>[N]</c> is read as <c>[N,1]</c>. Null when the input has another rank, or a
    /// fixed first dimension other than 1 (a graph that can take only a fixed number of rows).
    /// </summary>
    public static (long Batch, long Width)? Layout(IReadOnlyList<long> shape) => shape.Count switch
    {
        1 when shape[0] is -1 or 1 => (shape[0], 1),
        2 when shape[0] is -1 or 1 => (shape[0], shape[1]),
        _ => null,
    };

    /// <summary>
    /// The feature columns a signature names, when no columns are given: a column with a category list or feeding a
    /// string tensor is categorical, one feeding a bool tensor boolean, any other numeric.
    /// </summary>
    private static List<ModelColumn> ColumnsOf(OnnxSignature signature) =>
    [
        .. (signature.Inputs ?? [])
            .Where(b => b is not null)
            .SelectMany(b => (b.Columns ?? []).OfType<string>().Select(c => new ModelColumn(c, KindOf(b, c))))
            .DistinctBy(c => c.Name),
    ];

    private static ColumnKind KindOf(OnnxInputBinding binding, string column) =>
        binding.Categories?.ContainsKey(column) == true
            ? ColumnKind.Categorical
            : binding.ElementType switch
            {
                OnnxElementType.String => ColumnKind.Categorical,
                OnnxElementType.Bool => ColumnKind.Boolean,
                _ => ColumnKind.Numeric,
            };

    private static T? Metadata<T>(OnnxGraph graph, string key, bool json = true)
    {
        if (!graph.Metadata.TryGetValue(key, out var text))
        {
            return default;
        }

        try
        {
            return JsonSerializer.Deserialize<T>(json ? text : JsonSerializer.Serialize(text), RegistryJson.Options);
        }
        catch (JsonException ex)
        {
            throw OnnxGraph.Unloadable($"The graph's metadata '{key}' cannot be read: {ex.Message}", ex);
        }
    }

    private static List<OnnxInputBinding> InferInputs(OnnxGraph graph, ref List<ModelColumn>? features)
    {
        if (features is null)
        {
            features = [];
            foreach (var input in graph.Inputs)
            {
                if (input.ElementType is not { } type || Layout(input.Shape) is not (_, 1))
                {
                    throw ModuleException.Invalid(
                        "columns",
                        $"Graph input '{input.Name}' ({input.Describe()}) does not carry one column: give the columns, and the "
                        + "signature unless they are packed into it in order.");
                }

                features.Add(new ModelColumn(input.Name, type switch
                {
                    OnnxElementType.String => ColumnKind.Categorical,
                    OnnxElementType.Bool => ColumnKind.Boolean,
                    _ => ColumnKind.Numeric,
                }));
            }
        }

        var bindings = new List<OnnxInputBinding>();
        var unbound = new List<GraphValue>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in graph.Inputs)
        {
            var column = features.FirstOrDefault(c => c.Name == input.Name)
                ?? features.FirstOrDefault(c => string.Equals(c.Name, input.Name, StringComparison.OrdinalIgnoreCase));
            if (column is not null && used.Add(column.Name))
            {
                bindings.Add(new OnnxInputBinding(input.Name, input.ElementType ?? OnnxElementType.Float, input.Shape, [column.Name]));
            }
            else
            {
                unbound.Add(input);
            }
        }

        var rest = features.Where(c => !used.Contains(c.Name)).Select(c => c.Name).ToList();
        if (unbound.Count == 1 && rest.Count > 0 && Layout(unbound[0].Shape) is (_, var width) && (width == -1 || width == rest.Count))
        {
            // One input left for the columns left: they are packed into it in order (skl2onnx's float_input).
            bindings.Add(new OnnxInputBinding(unbound[0].Name, unbound[0].ElementType ?? OnnxElementType.Float, unbound[0].Shape, rest));
        }
        else if (unbound.Count > 0)
        {
            throw ModuleException.Invalid(
                "signature",
                $"Graph input '{unbound[0].Name}' ({unbound[0].Describe()}) is named after no column, and the columns left "
                + $"({string.Join(", ", rest)}) do not fill it in order: give the signature.");
        }

        return bindings;
    }

    private static OnnxOutputBinding InferOutputs(OnnxGraph graph)
    {
        string? Find(string[] names, Func<GraphValue, bool> fits) =>
            names.Select(graph.Output).FirstOrDefault(o => o is not null && fits(o))?.Name;

        var label = Find(LabelNames, o => o.ElementType is OnnxElementType.Bool or OnnxElementType.Int64 or OnnxElementType.Int32
            or OnnxElementType.String);
        var score = Find(ScoreNames, IsNumberTensor);
        var probabilities = Find(ProbabilityNames, o => IsNumberTensor(o) || o.Kind == GraphValueKind.Sequence);
        if (label is null && score is null && probabilities is null && graph.Outputs.Count(IsNumberTensor) == 1)
        {
            score = graph.Outputs.Single(IsNumberTensor).Name;
        }

        return new OnnxOutputBinding(label, score, probabilities);
    }

    private static ModelTask? InferTask(OnnxGraph graph, OnnxOutputBinding outputs)
    {
        long? Width(string? name) => name is null || graph.Output(name) is not { } o
            ? null
            : o.Kind == GraphValueKind.Sequence ? graph.Classes?.Count ?? outputs.Classes?.Count : Layout(o.Shape)?.Width;

        var classes = outputs.Classes?.Count ?? Width(outputs.Probabilities) ?? Width(outputs.Score);
        if (outputs.Label is { } label && graph.Output(label)?.ElementType == OnnxElementType.Bool)
        {
            return ModelTask.BinaryClassification;
        }

        if (outputs.Label is null && outputs.Probabilities is null && outputs.Score is not null)
        {
            return Width(outputs.Score) switch
            {
                1 => ModelTask.Regression,
                > 2 => ModelTask.MulticlassClassification,
                _ => null,
            };
        }

        return classes switch
        {
            1 or 2 => ModelTask.BinaryClassification,
            > 2 => ModelTask.MulticlassClassification,
            _ => null,
        };
    }

    private static bool IsNumberTensor(GraphValue value) =>
        value.Kind == GraphValueKind.Tensor && value.ElementType is OnnxElementType.Float or OnnxElementType.Double;

    /// <summary>The signature checked against the graph and the columns, with the graph's element types and shapes.</summary>
    private static OnnxSignature Fit(OnnxSignature signature, OnnxGraph graph, IReadOnlyList<ModelColumn> features)
    {
        var errors = new Dictionary<string, string[]>();
        if (signature.Inputs is not { Count: > 0 })
        {
            throw ModuleException.Invalid("signature.inputs", "At least one input binding is required.");
        }

        var byName = features.ToDictionary(c => c.Name, StringComparer.Ordinal);
        var fed = new HashSet<string>(StringComparer.Ordinal);
        var bound = new HashSet<string>(StringComparer.Ordinal);
        var inputs = new List<OnnxInputBinding>();
        for (var i = 0; i < signature.Inputs.Count; i++)
        {
            var field = string.Create(CultureInfo.InvariantCulture, $"signature.inputs[{i}]");
            var binding = signature.Inputs[i];
            if (binding?.Name is null || graph.Input(binding.Name) is not { } input)
            {
                errors[$"{field}.name"] = [$"The graph has no input '{binding?.Name}'; it has {Names(graph.Inputs)}."];
                continue;
            }

            if (!bound.Add(input.Name))
            {
                errors[$"{field}.name"] = [$"Graph input '{input.Name}' is bound twice."];
                continue;
            }

            // The columns first, so that a wrong type or shape does not also report its columns as feeding nothing.
            var columns = binding.Columns ?? [];
            var positions = FeedColumns(binding, columns, field, byName, fed, errors);
            if (input.ElementType is not { } type)
            {
                errors[$"{field}.elementType"] = [$"Graph input '{input.Name}' is a {input.Describe()}, which Formanova cannot feed."];
            }
            else if (binding.ElementType != type)
            {
                errors[$"{field}.elementType"] = [$"Graph input '{input.Name}' is {Lower(type)}, not {Lower(binding.ElementType)}."];
            }
            else if (Layout(input.Shape) is not (_, var width))
            {
                errors[$"{field}.shape"] = [
                    $"Graph input '{input.Name}' is {input.Describe()}: Formanova feeds [N] or [N,k] with a free (or 1) first dimension.",
                ];
            }
            else if (binding.Shape is { Count: > 0 } shape && !shape.SequenceEqual(input.Shape))
            {
                errors[$"{field}.shape"] = [
                    $"Graph input '{input.Name}' has shape [{string.Join(",", input.Shape)}], not [{string.Join(",", shape)}].",
                ];
            }
            else
            {
                for (var j = 0; j < columns.Count; j++)
                {
                    if (Unfit(byName.GetValueOrDefault(columns[j] ?? ""), type, binding.Categories) is { } reason)
                    {
                        errors.TryAdd(string.Create(CultureInfo.InvariantCulture, $"{field}.columns[{j}]"), [reason]);
                    }
                }

                if (positions is { } count && width != -1 && width != count)
                {
                    errors[$"{field}.columns"] = [$"Graph input '{input.Name}' takes {width} values per row; the columns give {count}."];
                }

                inputs.Add(binding with { ElementType = type, Shape = input.Shape, Columns = columns });
            }
        }

        var unbound = graph.Inputs.Where(g => !bound.Contains(g.Name))
            .Select(g => $"Graph input '{g.Name}' ({g.Describe()}) is bound to no column.");
        var unfed = features.Where(c => !fed.Contains(c.Name)).Select(c => $"Column '{c.Name}' feeds no graph input.");
        if (unbound.Concat(unfed).ToArray() is { Length: > 0 } loose)
        {
            errors["signature.inputs"] = loose;
        }

        var outputs = signature.Outputs ?? new OnnxOutputBinding();
        CheckOutput(graph, outputs.Label, "label", errors, o => o.Kind == GraphValueKind.Tensor && o.ElementType is OnnxElementType.Bool
            or OnnxElementType.Int64 or OnnxElementType.Int32 or OnnxElementType.String, "a bool, int64, int32 or string tensor");
        CheckOutput(graph, outputs.Score, "score", errors, IsNumberTensor, "a float or double tensor");
        CheckOutput(graph, outputs.Probabilities, "probabilities", errors, o => IsNumberTensor(o) || o.Kind == GraphValueKind.Sequence,
            "a float or double tensor, or a sequence of maps (ZipMap)");
        if (outputs.Label is null && outputs.Score is null && outputs.Probabilities is null)
        {
            errors["signature.outputs"] = [
                $"Name at least one output (label, score or probabilities); the graph has {Names(graph.Outputs)}.",
            ];
        }

        if (outputs.Classes is { } classes && (classes.Count == 0 || classes.Distinct(StringComparer.Ordinal).Count() != classes.Count))
        {
            errors["signature.outputs.classes"] = ["The class names must be distinct, and at least one."];
        }

        return errors.Count > 0
            ? throw new ModuleException(ErrorKind.Invalid, "The signature does not fit the graph.", errors)
            : new OnnxSignature(inputs, outputs with { Classes = outputs.Classes ?? graph.Classes });
    }

    private static string Names(IEnumerable<GraphValue> values) => string.Join(", ", values.Select(v => v.Name));

    private static string Lower(OnnxElementType type) => type.ToString().ToLowerInvariant();

    /// <summary>
    /// Checks a binding's columns and marks them fed: the positions they take along the last axis, or null when one
    /// is wrong (its error is then in <paramref name="errors"/>).
    /// </summary>
    private static long? FeedColumns(
        OnnxInputBinding binding,
        IReadOnlyList<string> columns,
        string field,
        Dictionary<string, ModelColumn> byName,
        HashSet<string> fed,
        Dictionary<string, string[]> errors)
    {
        var before = errors.Count;
        var positions = 0L;
        if (columns.Count == 0)
        {
            errors[$"{field}.columns"] = ["At least one column is required."];
        }

        for (var j = 0; j < columns.Count; j++)
        {
            var columnField = string.Create(CultureInfo.InvariantCulture, $"{field}.columns[{j}]");
            if (columns[j] is not { } name || !byName.ContainsKey(name))
            {
                errors[columnField] = [$"'{columns[j]}' is not a feature column."];
            }
            else if (!fed.Add(name))
            {
                errors[columnField] = [$"Column '{name}' feeds more than one position."];
            }
            else
            {
                positions += binding.Categories?.GetValueOrDefault(name)?.Count ?? 1;
            }
        }

        foreach (var key in (binding.Categories?.Keys ?? []).Where(k => !columns.Contains(k)))
        {
            errors[$"{field}.categories.{key}"] = [$"'{key}' is not one of this input's columns."];
        }

        return errors.Count == before ? positions : null;
    }

    private static string? Unfit(
        ModelColumn? column,
        OnnxElementType type,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? allCategories)
    {
        if (column is null)
        {
            return null;
        }

        var categories = allCategories?.GetValueOrDefault(column.Name);
        if (categories is not null)
        {
            return column.Kind != ColumnKind.Categorical || type == OnnxElementType.String
                ? "Only a categorical column fed to a numeric input is one-hot encoded."
                : categories.Count == 0 || categories.Distinct(StringComparer.Ordinal).Count() != categories.Count
                    ? "The categories must be distinct, and at least one."
                    : null;
        }

        var text = column.Kind is ColumnKind.Categorical or ColumnKind.Text;
        return (text, type == OnnxElementType.String) switch
        {
            (true, false) => $"A {column.Kind.ToString().ToLowerInvariant()} column feeds a string input, or a numeric one "
                + "one-hot with its categories listed.",
            (false, true) => $"A {column.Kind.ToString().ToLowerInvariant()} column cannot feed a string input.",
            _ => null,
        };
    }

    private static void CheckOutput(
        OnnxGraph graph,
        string? name,
        string field,
        Dictionary<string, string[]> errors,
        Func<GraphValue, bool> fits,
        string expected)
    {
        if (name is null)
        {
            return;
        }

        if (graph.Output(name) is not { } output)
        {
            errors[$"signature.outputs.{field}"] = [$"The graph has no output '{name}'; it has {Names(graph.Outputs)}."];
        }
        else if (!fits(output))
        {
            errors[$"signature.outputs.{field}"] = [$"Output '{name}' is {output.Describe()}; the {field} must be {expected}."];
        }
    }

    /// <summary>What the task needs of the outputs, from their declared shapes; the probe row checks what they really give.</summary>
    private static void CheckOutputsFitTask(OnnxOutputBinding outputs, OnnxGraph graph, ModelTask task)
    {
        long? Width(string? name) =>
            name is null || graph.Output(name) is not { Kind: GraphValueKind.Tensor } o ? null : Layout(o.Shape)?.Width;

        var ranked = Width(outputs.Probabilities) ?? Width(outputs.Score);

        string? problem = task switch
        {
            ModelTask.Regression when outputs.Score is null =>
                "A regression needs a score output: one float per row.",
            ModelTask.Regression when Width(outputs.Score) is { } w && w != 1 && w != -1 =>
                $"A regression needs one float per row; the score output gives {w}.",
            ModelTask.MulticlassClassification when outputs.Probabilities is null && outputs.Score is null =>
                "A multiclass classifier needs probabilities or scores over the classes; a label alone does not rank them.",
            ModelTask.MulticlassClassification when outputs.Classes is { } c && ranked is { } w && w != -1 && w != c.Count =>
                $"The outputs give {w} values per row for {c.Count} classes.",
            ModelTask.BinaryClassification when ranked is > 2 =>
                "A binary classifier gives one or two scores or probabilities per row.",
            _ => null,
        };
        if (problem is not null)
        {
            throw new ModuleException(
                ErrorKind.Unprocessable,
                problem,
                new Dictionary<string, string[]> { ["signature.outputs"] = [problem] });
        }
    }
}
