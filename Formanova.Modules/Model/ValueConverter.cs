using System.Globalization;
using System.Text.Json;

namespace Formanova.Modules.Model;

/// <summary>
/// The single place where caller values become what the pipeline reads, for training rows and prediction inputs
/// alike, so that a value means the same thing in both. Numeric and boolean columns become floats (NaN when
/// missing, then replaced by the pipeline); categorical and text columns become strings ("" when missing).
/// </summary>
internal static class ValueConverter
{
    public static bool TryFloat(ColumnKind kind, object? value, out float result, out string? error)
    {
        error = null;
        if (value is JsonElement json)
        {
            value = Unwrap(json);
        }

        switch (value)
        {
            case null:
                result = float.NaN;
                return true;
            case double d when kind == ColumnKind.Numeric:
                result = (float)d;
                return FiniteOrNaN(d, ref error);
            case float f when kind == ColumnKind.Numeric:
                result = f;
                return FiniteOrNaN(f, ref error);
            case int or long or short or byte or decimal when kind == ColumnKind.Numeric:
                result = Convert.ToSingle(value, CultureInfo.InvariantCulture);
                return true;
            case DateTimeOffset time when kind == ColumnKind.Numeric:
                result = time.ToUnixTimeSeconds();
                return true;
            case bool b when kind == ColumnKind.Boolean:
                result = b ? 1f : 0f;
                return true;
            case double d when kind == ColumnKind.Boolean && d is 0 or 1:
                result = (float)d;
                return true;
            default:
                result = float.NaN;
                error = $"expected {(kind == ColumnKind.Boolean ? "true, false" : "a number")} or null, got {Describe(value)}";
                return false;
        }
    }

    public static bool TryText(ColumnKind kind, object? value, out string result, out string? error)
    {
        error = null;
        if (value is JsonElement json)
        {
            value = Unwrap(json);
        }

        switch (value)
        {
            case null:
                result = "";
                return true;
            case string s:
                result = s;
                return true;
            case double or float or int or long or decimal when kind == ColumnKind.Categorical:
                result = Convert.ToString(value, CultureInfo.InvariantCulture)!;
                return true;
            case bool b when kind == ColumnKind.Categorical:
                result = b ? "true" : "false";
                return true;
            case DateTimeOffset time:
                result = time.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);
                return true;
            default:
                result = "";
                error = $"expected a string or null, got {Describe(value)}";
                return false;
        }
    }

    /// <summary>Binary labels: true/false, 0/1, or the strings true/false/yes/no/1/0.</summary>
    public static bool? BinaryLabel(object? value) => (value is JsonElement json ? Unwrap(json) : value) switch
    {
        bool b => b,
        double d when d is 0 or 1 => d == 1,
        int i when i is 0 or 1 => i == 1,
        long l when l is 0 or 1 => l == 1,
        string s when s.Equals("true", StringComparison.OrdinalIgnoreCase) || s.Equals("yes", StringComparison.OrdinalIgnoreCase)
            || s == "1" => true,
        string s when s.Equals("false", StringComparison.OrdinalIgnoreCase) || s.Equals("no", StringComparison.OrdinalIgnoreCase)
            || s == "0" => false,
        _ => null,
    };

    public static string Describe(object? value) => value switch
    {
        null => "null",
        string => "a string",
        bool => "a boolean",
        double or float or int or long or decimal => "a number",
        JsonElement json => $"a JSON {json.ValueKind.ToString().ToLowerInvariant()}",
        _ => $"a {value.GetType().Name}",
    };

    private static bool FiniteOrNaN(double value, ref string? error)
    {
        if (double.IsInfinity(value))
        {
            error = "expected a finite number";
            return false;
        }

        return true;
    }

    private static object? Unwrap(JsonElement json) => json.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.String => json.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number => json.GetDouble(),
        _ => json,
    };
}
