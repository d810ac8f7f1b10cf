using System.Globalization;
using System.Text.Json;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Rows;

namespace Formanova.Modules.Model.Inference;

/// <summary>
/// A version's input contract compiled once (cached with the registry row): which raw columns a request must carry,
/// the frozen per-row steps as functions, and where each model feature comes from. A raw row becomes the engine's
/// input in one pass. Keys the model does not read (the label, ids, unknown names) are ignored and reported, or refused
/// in strict mode. A version without a stored contract (registered before contracts, or uploaded) takes its feature
/// columns as they are, which is also the fast path of a contract with no steps and no date features.
/// </summary>
internal sealed class CompiledContract
{
    private readonly ColumnBinding[] _layout;
    private readonly int _width;
    private readonly Func<long, object?[], object?[]?>[] _steps;
    private readonly int[] _source;
    private readonly DerivedFeature?[] _derived;
    private readonly string _takes;

    private CompiledContract(
        ColumnBinding[] layout,
        InputColumn[] inputs,
        int[] rawIndex,
        int width,
        Func<long, object?[], object?[]?>[] steps,
        int[] source,
        DerivedFeature?[] derived,
        bool direct)
    {
        _layout = layout;
        Inputs = inputs;
        RawIndex = rawIndex;
        _width = width;
        _steps = steps;
        _source = source;
        _derived = derived;
        Direct = direct;
        Names = new HashSet<string>(inputs.Select(c => c.Name), StringComparer.Ordinal);
        _takes = string.Join(", ", inputs.Take(50).Select(c => c.Name));
    }

    /// <summary>The raw columns a row must carry (null for an unknown value), in contract order.</summary>
    public InputColumn[] Inputs { get; }

    public HashSet<string> Names { get; }

    /// <summary>True when input i is feature i as it is: no steps, no date features.</summary>
    public bool Direct { get; }

    /// <summary>Position of input i in the full raw row (every raw column of the training dataset).</summary>
    private int[] RawIndex { get; }

    public static CompiledContract Create(ColumnBinding[] layout, ModelInputContract? contract)
    {
        if (contract is null)
        {
            var inputs = layout.Select(b => new InputColumn(b.Column.Name, TypeOf(b.Column.Kind), InputRole.Feature)).ToArray();
            var identity = Enumerable.Range(0, layout.Length).ToArray();
            return new CompiledContract(layout, inputs, identity, layout.Length, [], identity, new DerivedFeature?[layout.Length], true);
        }

        var columns = contract.Columns.Select(c => (c.Name, c.Type)).ToList();
        var steps = new List<Func<long, object?[], object?[]?>>();
        for (var s = 0; s < contract.Steps.Count; s++)
        {
            var step = contract.Steps[s];
            var at = columns.FindIndex(c => c.Name == step.Column);
            switch (step.Op)
            {
                case InputStepOp.Rename when at >= 0 && step.NewName is { } name:
                    columns[at] = (name, columns[at].Type);
                    break;
                case InputStepOp.Cast when at >= 0 && step.Type is { } type:
                    columns[at] = (columns[at].Name, type);
                    steps.Add(RowSteps.Cast(at, Scalar(type)));
                    break;
                case InputStepOp.Fill when at >= 0 && Constant(step.Value, columns[at].Type) is { } fill:
                    steps.Add(RowSteps.Fill(at, fill));
                    break;
                case InputStepOp.Filter:
                    // A training filter chose the rows to learn from; a scoring path answers every row it is sent.
                    break;
                case InputStepOp.Derive when step.NewName is { } name:
                    var expression = RowSteps.ParseDerive(step.Expression, Expressions(columns), $"contract.steps[{s}]");
                    steps.Add(RowSteps.Derive(columns.Count, expression));
                    columns.Add((name, InputType.Numeric));
                    break;
                default:
                    throw new ModuleException(ErrorKind.Unprocessable, $"Step {s} of the stored input contract cannot be applied.");
            }
        }

        var source = new int[layout.Length];
        var derived = new DerivedFeature?[layout.Length];
        for (var i = 0; i < layout.Length; i++)
        {
            var name = layout[i].Column.Name;
            derived[i] = contract.DerivedFeatures.FirstOrDefault(d => d.Name == name);
            source[i] = columns.FindIndex(c => c.Name == (derived[i]?.Source ?? name));
            if (source[i] < 0)
            {
                throw new ModuleException(ErrorKind.Unprocessable, $"Feature '{name}' has no source in the stored input contract.");
            }
        }

        var features = contract.Columns.Select((c, i) => (Column: c, Index: i)).Where(c => c.Column.Role == InputRole.Feature).ToArray();
        var direct = steps.Count == 0 && derived.All(d => d is null) && features.Length == layout.Length
            && features.Select(f => f.Index).SequenceEqual(source)
            && features.All(f => f.Column.Type == TypeOf(layout[Array.IndexOf(source, f.Index)].Column.Kind));
        return new CompiledContract(
            layout,
            [.. features.Select(f => f.Column)],
            [.. features.Select(f => f.Index)],
            contract.Columns.Count,
            [.. steps],
            source,
            derived,
            direct);
    }

    /// <summary>
    /// Converts one named row into <paramref name="into"/>, or collects its missing and wrong-typed inputs under
    /// <c>inputs</c> (row -1) or <c>rows[i]</c>. Keys the model does not read go to <paramref name="ignored"/>, or are
    /// errors when <paramref name="strict"/>.
    /// </summary>
    public bool TryConvert(
        IReadOnlyDictionary<string, object?>? inputs,
        int row,
        bool strict,
        Dictionary<string, string[]> errors,
        NormalizedInput into,
        ref List<string>? ignored)
    {
        string Prefix() => row < 0 ? "inputs" : string.Create(CultureInfo.InvariantCulture, $"rows[{row}]");

        if (inputs is null)
        {
            errors[Prefix()] = ["An object of input values is required."];
            return false;
        }

        var before = errors.Count;
        var matched = 0;
        var raw = Direct ? null : new object?[_width];
        for (var i = 0; i < Inputs.Length; i++)
        {
            var column = Inputs[i];
            if (!inputs.TryGetValue(column.Name, out var value))
            {
                errors[$"{Prefix()}.{column.Name}"] = [Missing(column, "send null for an unknown value")];
                continue;
            }

            matched++;
            if (!Read(i, value, raw, into, out var reason))
            {
                errors[$"{Prefix()}.{column.Name}"] = [reason];
            }
        }

        if (matched != inputs.Count)
        {
            foreach (var key in inputs.Keys.Where(k => !Names.Contains(k)))
            {
                if (strict)
                {
                    errors[$"{Prefix()}.{key}"] = [NotUsed(key)];
                }
                else
                {
                    (ignored ??= []).Add(key);
                }
            }
        }

        return errors.Count == before && Featurise(raw, into, Prefix, errors);
    }

    /// <summary>
    /// Maps each input to its position in <paramref name="columns"/> (a null name skips a position), or throws Invalid
    /// naming each repeated or (in strict mode) unused column as <c>columns[j]</c> and each missing one as <c>columns.name</c>.
    /// </summary>
    public int[] Bind(IReadOnlyList<string?> columns, bool strict, List<string> ignored)
    {
        var errors = new Dictionary<string, string[]>();
        var byName = new Dictionary<string, int>(columns.Count, StringComparer.Ordinal);
        for (var j = 0; j < columns.Count; j++)
        {
            if (columns[j] is not { } name)
            {
                continue;
            }

            if (!Names.Contains(name))
            {
                if (strict)
                {
                    errors[Field(j)] = [$"{NotUsed(name)} (name the position null to skip it)"];
                }
                else if (!ignored.Contains(name))
                {
                    ignored.Add(name);
                }
            }
            else if (!byName.TryAdd(name, j))
            {
                errors[Field(j)] = [$"Column '{name}' appears twice (first at position {byName[name]})."];
            }
        }

        var positions = new int[Inputs.Length];
        for (var i = 0; i < Inputs.Length; i++)
        {
            if (!byName.TryGetValue(Inputs[i].Name, out positions[i]))
            {
                errors[$"columns.{Inputs[i].Name}"] = [Missing(Inputs[i], "a column of nulls is accepted for unknown values")];
            }
        }

        return errors.Count > 0
            ? throw new ModuleException(ErrorKind.Invalid, "The columns do not match the model's inputs.", errors)
            : positions;
    }

    /// <summary>One positional row, its inputs at <paramref name="positions"/> (from <see cref="Bind"/>).</summary>
    public bool TryConvert(object?[] values, int[] positions, string prefix, Dictionary<string, string[]> errors, NormalizedInput into)
    {
        var ok = true;
        var raw = Direct ? null : new object?[_width];
        for (var i = 0; i < Inputs.Length; i++)
        {
            if (!Read(i, values[positions[i]], raw, into, out var reason))
            {
                errors[$"{prefix}.{Inputs[i].Name}"] = [reason];
                ok = false;
            }
        }

        return ok && Featurise(raw, into, () => prefix, errors);
    }

    private static InputType TypeOf(ColumnKind kind) => kind switch
    {
        ColumnKind.Numeric => InputType.Numeric,
        ColumnKind.Boolean => InputType.Boolean,
        ColumnKind.Categorical => InputType.Categorical,
        _ => InputType.Text,
    };

    private static ScalarType Scalar(InputType type) => type switch
    {
        InputType.Numeric => ScalarType.Numeric,
        InputType.Categorical => ScalarType.Categorical,
        InputType.Boolean => ScalarType.Boolean,
        InputType.Text => ScalarType.Text,
        _ => ScalarType.Datetime,
    };

    private static List<ExprColumn> Expressions(List<(string Name, InputType Type)> columns) =>
        [.. columns.Select(c => new ExprColumn(c.Name, Scalar(c.Type)))];

    private static object? Constant(JsonElement? value, InputType type) => (value, type) switch
    {
        (null, _) => null,
        ({ ValueKind: JsonValueKind.Number } json, InputType.Numeric) => json.GetDouble(),
        ({ ValueKind: JsonValueKind.True or JsonValueKind.False } json, InputType.Boolean) => json.GetBoolean(),
        ({ } json, InputType.Datetime) => DateFeatures.AsDate(json),
        ({ ValueKind: JsonValueKind.String } json, _) => json.GetString(),
        _ => null,
    };

    private static string Field(int position) => string.Create(CultureInfo.InvariantCulture, $"columns[{position}]");

    private static string Missing(InputColumn column, string hint) =>
        $"Missing {column.Type.ToString().ToLowerInvariant()} column '{column.Name}' ({hint}).";

    private string NotUsed(string name) => $"Column '{name}' is not an input of the model (strict mode); it takes: {_takes}";

    // Input i as the raw row holds it (or, on the direct path, straight into the engine's slot i).
    private bool Read(int i, object? value, object?[]? raw, NormalizedInput into, out string reason)
    {
        if (raw is null)
        {
            var ok = InputNormalizer.TryConvert(_layout[i], i, value, into, out var error);
            reason = error!;
            return ok;
        }

        var column = Inputs[i];
        if (value is JsonElement { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined } || value is null)
        {
            raw[RawIndex[i]] = null;
            reason = "";
            return true;
        }

        string? problem;
        object? read = null;
        switch (column.Type)
        {
            case InputType.Numeric:
            case InputType.Boolean:
                var kind = column.Type == InputType.Numeric ? ColumnKind.Numeric : ColumnKind.Boolean;
                if (ValueConverter.TryFloat(kind, value, out var number, out problem))
                {
                    read = kind == ColumnKind.Boolean ? number != 0 : (float.IsNaN(number) ? null : Number(value, number));
                }

                break;
            case InputType.Datetime:
                read = DateFeatures.AsDate(value);
                problem = read is null ? $"expected an ISO 8601 date-time or null, got {ValueConverter.Describe(value)}" : null;
                break;
            default:
                var textKind = column.Type == InputType.Categorical ? ColumnKind.Categorical : ColumnKind.Text;
                if (ValueConverter.TryText(textKind, value, out var text, out problem))
                {
                    read = text;
                }

                break;
        }

        raw[RawIndex[i]] = read;
        reason = problem is null ? "" : $"Column '{column.Name}' ({column.Type.ToString().ToLowerInvariant()}): {problem}.";
        return problem is null;
    }

    // The double as sent when there is one, so a derive sees the same precision training saw.
    private static double Number(object? value, float converted) => value switch
    {
        double d => d,
        JsonElement { ValueKind: JsonValueKind.Number } json => json.GetDouble(),
        _ => Convert.ToDouble(value is DateTimeOffset t ? t.ToUnixTimeSeconds() : value ?? converted, CultureInfo.InvariantCulture),
    };

    private bool Featurise(object?[]? raw, NormalizedInput into, Func<string> prefix, Dictionary<string, string[]> errors)
    {
        if (raw is null)
        {
            return true;
        }

        var row = raw;
        foreach (var step in _steps)
        {
            row = step(0, row)!;
        }

        var ok = true;
        for (var i = 0; i < _layout.Length; i++)
        {
            var value = _derived[i] is { } derived ? derived.Compute(row[_source[i]]) : row[_source[i]];
            if (!InputNormalizer.TryConvert(_layout[i], i, value, into, out var reason))
            {
                errors[$"{prefix()}.{_layout[i].Column.Name}"] = [reason];
                ok = false;
            }
        }

        return ok;
    }
}
