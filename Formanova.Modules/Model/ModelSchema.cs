using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Model;

/// <summary>A validated schema: the feature columns in order, and the label for training.</summary>
internal sealed record ModelSchema(IReadOnlyList<ModelColumn> Features, ModelColumn? Label)
{
    /// <summary>Column names the ML.NET pipeline itself produces; a feature with one of these names would be overwritten.</summary>
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "Label", "Features", "Score", "PredictedLabel", "PredictedLabelValue", "Probability",
    };

    public const int MaxFloatColumns = SlotRow.FloatSlots;

    public const int MaxTextColumns = SlotRow.TextSlots;

    public IEnumerable<ModelColumn> All => Label is null ? Features : Features.Append(Label);

    /// <summary>
    /// Checks a schema. An ONNX version (<paramref name="framework"/>) has no ML.NET pipeline: its columns may take the
    /// names ML.NET reserves, and its inputs are tensors rather than the fixed slots of <see cref="SlotRow"/>.
    /// </summary>
    public static ModelSchema Validate(
        IReadOnlyList<ModelColumn>? columns,
        ModelTask task,
        bool requireLabel,
        int maxColumns,
        ModelFramework framework = ModelFramework.Mlnet)
    {
        var mlnet = framework == ModelFramework.Mlnet;
        var errors = new Dictionary<string, string[]>();
        if (columns is null || columns.Count == 0)
        {
            throw ModuleException.Invalid("columns", "At least one column is required.");
        }

        if (columns.Count - 1 > maxColumns)
        {
            throw new ModuleException(
                ErrorKind.TooLarge,
                $"A model takes at most {maxColumns} feature columns; {columns.Count} were given.");
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < columns.Count; i++)
        {
            var column = columns[i];
            var reasons = new List<string>();
            if (column is null || string.IsNullOrWhiteSpace(column.Name))
            {
                errors[$"columns[{i}].name"] = ["A column name is required."];
                continue;
            }

            if (column.Name.Length > 128 || column.Name.Any(char.IsControl))
            {
                reasons.Add("A column name has at most 128 characters and no control characters.");
            }

            if (!seen.Add(column.Name))
            {
                reasons.Add($"Column '{column.Name}' appears twice (names are compared ignoring case).");
            }

            if (mlnet && !column.IsLabel && Reserved.Contains(column.Name))
            {
                reasons.Add($"'{column.Name}' is reserved by the ML.NET pipeline; rename the column.");
            }

            if (!Enum.IsDefined(column.Kind))
            {
                reasons.Add("Kind must be numeric, categorical, boolean or text.");
            }

            if (reasons.Count > 0)
            {
                errors[$"columns[{i}]"] = [.. reasons];
            }
        }

        if (errors.Count > 0)
        {
            throw new ModuleException(ErrorKind.Invalid, "The schema is invalid.", errors);
        }

        var labels = columns.Where(c => c.IsLabel).ToList();
        var features = columns.Where(c => !c.IsLabel).ToList();
        if (labels.Count > 1 || (requireLabel && labels.Count == 0))
        {
            throw ModuleException.Invalid("columns", "Exactly one column must be the label.");
        }

        var label = labels.SingleOrDefault();
        if (label is not null && !LabelFits(label.Kind, task))
        {
            throw ModuleException.Invalid("columns", $"A {task} label cannot be a {label.Kind} column.");
        }

        if (features.Count == 0)
        {
            throw ModuleException.Invalid("columns", "At least one feature column is required.");
        }

        if (mlnet && (features.Count(c => IsFloat(c.Kind)) > MaxFloatColumns || features.Count(c => !IsFloat(c.Kind)) > MaxTextColumns))
        {
            throw new ModuleException(
                ErrorKind.TooLarge,
                $"A model takes at most {MaxFloatColumns} numeric or boolean and {MaxTextColumns} categorical or text columns.");
        }

        return new ModelSchema(features, label);
    }

    public static bool IsFloat(ColumnKind kind) => kind is ColumnKind.Numeric or ColumnKind.Boolean;

    private static bool LabelFits(ColumnKind kind, ModelTask task) => task switch
    {
        ModelTask.BinaryClassification => kind is ColumnKind.Boolean or ColumnKind.Categorical or ColumnKind.Numeric,
        ModelTask.MulticlassClassification => kind is ColumnKind.Categorical or ColumnKind.Numeric or ColumnKind.Boolean,
        _ => kind == ColumnKind.Numeric,
    };
}
