using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Shared.Rows;

/// <summary>
/// The per-row steps (cast, fill with a constant, filter, derive) as functions over a positional row, for the Data
/// module's transforms and the Model module's input contract alike: a model scores a row with the same code that
/// prepared its training rows. A step returns the row to go on with, or null when a filter drops it.
/// </summary>
internal static class RowSteps
{
    public static Func<long, object?[], object?[]?> Cast(int index, ScalarType type) => (_, row) =>
    {
        row[index] = Casting.Convert(row[index], type);
        return row;
    };

    public static Func<long, object?[], object?[]?> Fill(int index, object fill) => (_, row) =>
    {
        row[index] ??= fill;
        return row;
    };

    public static Func<long, object?[], object?[]?> Filter(Expr expression) => (_, row) => expression.Evaluate(row) is true ? row : null;

    /// <summary>Appends the expression's value as a new last column of a row <paramref name="width"/> wide.</summary>
    public static Func<long, object?[], object?[]?> Derive(int width, Expr expression) => (_, row) =>
    {
        var next = new object?[width + 1];
        Array.Copy(row, next, width);
        next[width] = expression.Evaluate(row);
        return next;
    };

    public static Expr ParseFilter(string? text, IReadOnlyList<ExprColumn> columns, string field)
    {
        var expression = ExpressionParser.Parse(text, columns, field);
        return expression.Type == ExprType.Boolean
            ? expression
            : throw ModuleException.Invalid(field, "A filter expression must be true or false, e.g. age >= 18.");
    }

    public static Expr ParseDerive(string? text, IReadOnlyList<ExprColumn> columns, string field)
    {
        var expression = ExpressionParser.Parse(text, columns, field);
        return expression.Type == ExprType.Number
            ? expression
            : throw ModuleException.Invalid(field, "A derived column is arithmetic over numeric columns, e.g. price * quantity.");
    }
}

/// <summary>Conversions between stored value types; a value that does not convert becomes null.</summary>
internal static class Casting
{
    public static object? Convert(object? value, ScalarType type) => (value, type) switch
    {
        (null, _) => null,
        (double, ScalarType.Numeric) => value,
        (bool b, ScalarType.Numeric) => b ? 1.0 : 0.0,
        (string s, ScalarType.Numeric) => ValueText.TryParseNumber(s, out var d) ? d : null,
        (DateTimeOffset t, ScalarType.Numeric) => t.ToUnixTimeMilliseconds() / 1000.0,
        (bool, ScalarType.Boolean) => value,
        (double d, ScalarType.Boolean) => d != 0,
        (string s, ScalarType.Boolean) => ValueText.TryParseBoolean(s, out var b) ? b : null,
        (DateTimeOffset, ScalarType.Datetime) => value,
        (string s, ScalarType.Datetime) => ValueText.TryParseDate(s, out var t) ? t : null,
        (double d, ScalarType.Datetime) => d is >= -62135596800 and <= 253402300799
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)(d * 1000))
            : null,
        (_, ScalarType.Categorical or ScalarType.Text) => ValueText.Format(value),
        _ => null,
    };
}
