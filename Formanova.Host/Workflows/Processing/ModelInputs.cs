using System.Text.Json;
using Formanova.Modules.Model;

namespace Formanova.Host.Workflows.Processing;

/// <summary>
/// A processing request's inputs checked against the version's input contract, by the rules the Model module's scoring
/// paths apply: every raw input the model reads is present (null for an unknown value) with a value of its type; other
/// keys (the label, ids, unused columns) are ignored and listed, or refused in strict mode.
/// </summary>
internal static class ModelInputs
{
    private static readonly DerivedFeature DateCheck = new("year", "", DatePart.Year);

    /// <summary>
    /// The raw columns <paramref name="info"/> reads: its contract's features, or its feature columns when it has no contract.
    /// </summary>
    public static List<InputColumn> Of(ModelVersionInfo info) => info.Contract is { } contract
        ? [.. contract.Columns.Where(c => c.Role == InputRole.Feature)]
        : [.. info.Columns.Where(c => !c.IsLabel).Select(c => new InputColumn(c.Name, TypeOf(c.Kind), InputRole.Feature))];

    /// <summary>The errors by field, and the keys ignored; <paramref name="requireAll"/> is false when the request may be
    /// completed from stored features (a dataset and an entity).</summary>
    public static (Dictionary<string, string[]> Errors, List<string> Ignored) Check(
        ModelVersionInfo info,
        IReadOnlyDictionary<string, JsonElement> inputs,
        bool strict,
        bool requireAll)
    {
        var errors = new Dictionary<string, string[]>();
        var ignored = new List<string>();
        var columns = Of(info).ToDictionary(c => c.Name, StringComparer.Ordinal);
        foreach (var (name, value) in inputs)
        {
            if (!columns.TryGetValue(name, out var column))
            {
                if (strict)
                {
                    errors[$"inputs.{name}"] = [$"'{name}' is not an input of {info.Name} {info.Version} (strict mode)."];
                }
                else
                {
                    ignored.Add(name);
                }
            }
            else if (TypeProblem(column, value) is { } problem)
            {
                errors[$"inputs.{name}"] = [problem];
            }
        }

        foreach (var column in columns.Values.Where(c => requireAll && !inputs.ContainsKey(c.Name)))
        {
            errors[$"inputs.{column.Name}"] = [$"'{column.Name}' is required (send null for an unknown value)."];
        }

        return (errors, ignored);
    }

    private static InputType TypeOf(ColumnKind kind) => kind switch
    {
        ColumnKind.Numeric => InputType.Numeric,
        ColumnKind.Boolean => InputType.Boolean,
        ColumnKind.Categorical => InputType.Categorical,
        _ => InputType.Text,
    };

    private static string? TypeProblem(InputColumn column, JsonElement value) => value.ValueKind == JsonValueKind.Null
        ? null
        : column.Type switch
        {
            InputType.Numeric when value.ValueKind != JsonValueKind.Number => $"'{column.Name}' must be a number.",
            InputType.Boolean when value.ValueKind is not (JsonValueKind.True or JsonValueKind.False)
                => $"'{column.Name}' must be true or false.",
            InputType.Categorical or InputType.Text when value.ValueKind != JsonValueKind.String => $"'{column.Name}' must be a string.",
            InputType.Datetime when DateCheck.Compute(value) is null => $"'{column.Name}' must be an ISO 8601 date-time.",
            _ => null,
        };
}
