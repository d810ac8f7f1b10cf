using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Rows;

namespace Formanova.Modules.Data.Schema;

/// <summary>Why one value was rejected: a stable reason code (counted in reports) and a sentence for people.</summary>
internal readonly record struct ValueFailure(string Reason, string Message);

/// <summary>One column ready to parse and check values: the regex and allowed set are built once per import.</summary>
internal sealed class CompiledColumn
{
    // Every stored boolean is one of two boxes: a million-row import would otherwise allocate one per value.
    private static readonly object BoxedTrue = true;
    private static readonly object BoxedFalse = false;

    private readonly Regex? _pattern;
    private readonly HashSet<string>? _allowed;

    public CompiledColumn(ColumnDefinition definition, int index)
    {
        Definition = definition;
        Index = index;
        var constraints = definition.Constraints;
        if (constraints?.Pattern is { } pattern)
        {
            // Schemas are checked when written, but one stored before the linear-time engine may hold a pattern it
            // cannot run: that is the schema's problem to fix, named as such, never a 500.
            _pattern = ColumnPattern.TryCompile(pattern, out var reason) ?? throw new ModuleException(
                ErrorKind.Unprocessable,
                $"Column '{definition.Name}' of the dataset's schema has a pattern that cannot be used: {reason} "
                + "Update the schema to replace it.",
                new Dictionary<string, string[]> { [$"columns[{index}].constraints.pattern"] = [reason] });
        }

        if (constraints?.AllowedValues is { } allowed)
        {
            _allowed = new HashSet<string>(allowed, StringComparer.Ordinal);
        }
    }

    public ColumnDefinition Definition { get; }

    public int Index { get; }

    public string Name => Definition.Name;

    /// <summary>Parses CSV text; an empty field is a missing value.</summary>
    public ValueFailure? FromText(string? text, out object? value)
    {
        value = null;
        if (string.IsNullOrEmpty(text))
        {
            return CheckNull();
        }

        switch (Definition.Type)
        {
            case ColumnType.Numeric:
                if (!ValueText.TryParseNumber(text, out var number))
                {
                    return Type($"'{Shorten(text)}' is not a number.");
                }

                value = number;
                break;
            case ColumnType.Boolean:
                if (!ValueText.TryParseBoolean(text, out var flag))
                {
                    return Type($"'{Shorten(text)}' is not a boolean (true/false, 1/0, yes/no).");
                }

                value = flag ? BoxedTrue : BoxedFalse;
                break;
            case ColumnType.Datetime:
                if (!ValueText.TryParseDate(text, out var date))
                {
                    return Type($"'{Shorten(text)}' is not an ISO 8601 date-time.");
                }

                value = date;
                break;
            default:
                value = text;
                break;
        }

        return CheckConstraints(value);
    }

    /// <summary>Parses a JSON value; JSON types must match (a number for numeric, true/false for boolean).</summary>
    public ValueFailure? FromJson(JsonElement element, out object? value)
    {
        value = null;
        if (element.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return CheckNull();
        }

        switch (Definition.Type)
        {
            case ColumnType.Numeric:
                if (element.ValueKind != JsonValueKind.Number || !element.TryGetDouble(out var number) || !double.IsFinite(number))
                {
                    return Type($"Expected a number, got {Describe(element)}.");
                }

                value = number;
                break;
            case ColumnType.Boolean:
                if (element.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    return Type($"Expected true or false, got {Describe(element)}.");
                }

                value = element.GetBoolean() ? BoxedTrue : BoxedFalse;
                break;
            case ColumnType.Datetime:
                if (element.ValueKind != JsonValueKind.String || !ValueText.TryParseDate(element.GetString()!, out var date))
                {
                    return Type($"Expected an ISO 8601 date-time string, got {Describe(element)}.");
                }

                value = date;
                break;
            case ColumnType.Categorical when element.ValueKind == JsonValueKind.Number:
                // Codes such as 75001 arrive as JSON numbers; the category is their literal text.
                value = element.GetRawText();
                break;
            default:
                if (element.ValueKind != JsonValueKind.String)
                {
                    return Type($"Expected a string, got {Describe(element)}.");
                }

                var text = element.GetString()!;
                if (text.Length == 0)
                {
                    return CheckNull();
                }

                value = text;
                break;
        }

        return CheckConstraints(value);
    }

    private ValueFailure? CheckNull() =>
        Definition.Nullable ? null : new ValueFailure("required", $"A value is required (the column is not nullable).");

    private ValueFailure Type(string message) => new("type", $"{message} The column is {Definition.Type.ToString().ToLowerInvariant()}.");

    public ValueFailure? CheckConstraints(object? value)
    {
        var constraints = Definition.Constraints;
        if (value is null)
        {
            return CheckNull();
        }

        if (constraints is null)
        {
            return null;
        }

        if (value is double number)
        {
            if (number < constraints.Min)
            {
                return new ValueFailure(
                    "min",
                    string.Create(CultureInfo.InvariantCulture, $"{number} is below the minimum {constraints.Min.Value}."));
            }

            if (number > constraints.Max)
            {
                return new ValueFailure(
                    "max",
                    string.Create(CultureInfo.InvariantCulture, $"{number} is above the maximum {constraints.Max.Value}."));
            }
        }
        else if (value is string text)
        {
            if (text.Length > constraints.MaxLength)
            {
                return new ValueFailure("maxLength", $"The value has {text.Length} characters; the maximum is {constraints.MaxLength}.");
            }

            if (_allowed is not null && !_allowed.Contains(text))
            {
                var shown = string.Join(", ", _allowed.Take(10)) + (_allowed.Count > 10 ? ", …" : "");
                return new ValueFailure("allowedValues", $"'{Shorten(text)}' is not one of the allowed values ({shown}).");
            }

            if (_pattern is not null)
            {
                try
                {
                    if (!_pattern.IsMatch(text))
                    {
                        return new ValueFailure("pattern", $"'{Shorten(text)}' does not match the pattern {constraints.Pattern}.");
                    }
                }
                catch (RegexMatchTimeoutException)
                {
                    return new ValueFailure(
                        "pattern",
                        $"The pattern took longer than {ColumnPattern.MatchTimeout.TotalMilliseconds:0} ms "
                        + $"on this {text.Length}-character value.");
                }
            }
        }

        return null;
    }

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => $"the string '{Shorten(element.GetString()!)}'",
        JsonValueKind.Number => $"the number {element.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {element.GetRawText()}",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        _ => element.ValueKind.ToString().ToLowerInvariant(),
    };

    private static string Shorten(string text) => text.Length <= 60 ? text : string.Concat(text.AsSpan(0, 57), "...");
}

/// <summary>A schema version compiled for parsing; columns are addressed by position and by exact (ordinal) name.</summary>
internal sealed class CompiledSchema
{
    private readonly Dictionary<string, int> _byName;

    public CompiledSchema(int version, IReadOnlyList<ColumnDefinition> columns)
    {
        Version = version;
        Columns = columns.Select((c, i) => new CompiledColumn(c, i)).ToArray();
        _byName = Columns.ToDictionary(c => c.Name, c => c.Index, StringComparer.Ordinal);
        EntityColumn = FindEntityColumn(columns);
    }

    /// <summary>The first id-role column, or -1: what entity look-ups need, without compiling the constraints.</summary>
    public static int FindEntityColumn(IReadOnlyList<ColumnDefinition> columns)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            if (columns[i].Role == ColumnRole.Id)
            {
                return i;
            }
        }

        return -1;
    }

    public static long? EntityHash(object?[] values, int entityColumn) =>
        entityColumn >= 0 && ValueText.Format(values[entityColumn]) is { } key ? ValueText.EntityHash(key) : null;

    public int Version { get; }

    public CompiledColumn[] Columns { get; }

    /// <summary>The first id-role column (indexed for entity look-ups), or -1.</summary>
    public int EntityColumn { get; }

    public int IndexOf(string name) => _byName.TryGetValue(name, out var index) ? index : -1;

    public long? EntityHash(object?[] values) => EntityHash(values, EntityColumn);
}
