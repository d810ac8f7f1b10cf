using System.Globalization;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Model.Inference;

/// <summary>
/// The rows of a batch as the prediction loop reads them: row i converted into a chunk's scratch, or its errors
/// collected there. Both shapes convert each value by <see cref="InputNormalizer.TryConvert"/>, so the same value is
/// accepted or refused, and named, whichever way it comes in.
/// </summary>
internal abstract class BatchRows
{
    public abstract int Count { get; }

    /// <summary>False when row <paramref name="index"/> is invalid; its errors are then in <c>scratch.Errors</c>.</summary>
    public abstract bool TryConvert(int index, RowScratch scratch);
}

/// <summary>Rows as dictionaries (the REST batch): each row looks its columns up by name and may miss or add some.</summary>
internal sealed class NamedRows(ColumnBinding[] layout, IReadOnlyList<IReadOnlyDictionary<string, object?>> rows) : BatchRows
{
    public override int Count => rows.Count;

    public override bool TryConvert(int index, RowScratch scratch) =>
        InputNormalizer.TryNormalizeInto(layout, rows[index], index, scratch.Errors, scratch.Input);
}

/// <summary>
/// Positional rows (a batch job's chunk): the columns are matched to the model's inputs once for the whole call,
/// then each row is read by index, with no per-row dictionary or name lookup.
/// </summary>
internal sealed class PositionalRows : BatchRows
{
    private readonly ColumnBinding[] _layout;
    private readonly int[] _positions;
    private readonly int _width;
    private readonly IReadOnlyList<object?[]> _rows;

    private PositionalRows(ColumnBinding[] layout, int[] positions, int width, IReadOnlyList<object?[]> rows)
    {
        _layout = layout;
        _positions = positions;
        _width = width;
        _rows = rows;
    }

    public override int Count => _rows.Count;

    /// <summary>
    /// Maps every model input to its position in <paramref name="columns"/> (null entries are skipped), or throws
    /// Invalid naming each unknown, repeated (<c>columns[j]</c>) and missing (<c>columns.name</c>) column.
    /// </summary>
    public static PositionalRows Create(ColumnBinding[] layout, IReadOnlyList<string?> columns, IReadOnlyList<object?[]> rows)
    {
        var errors = new Dictionary<string, string[]>();
        var byName = new Dictionary<string, int>(columns.Count, StringComparer.Ordinal);
        for (var j = 0; j < columns.Count; j++)
        {
            var name = columns[j];
            if (name is null)
            {
                continue;
            }

            if (!Array.Exists(layout, b => b.Column.Name == name))
            {
                var takes = string.Join(", ", layout.Select(b => b.Column.Name));
                errors[Field(j)] = [$"Unknown column '{name}'; the model takes: {takes} (name the position null to skip it)."];
            }
            else if (!byName.TryAdd(name, j))
            {
                errors[Field(j)] = [$"Column '{name}' appears twice (first at position {byName[name]})."];
            }
        }

        var positions = new int[layout.Length];
        for (var i = 0; i < layout.Length; i++)
        {
            var column = layout[i].Column;
            if (!byName.TryGetValue(column.Name, out positions[i]))
            {
                var kind = column.Kind.ToString().ToLowerInvariant();
                errors[$"columns.{column.Name}"] =
                    [$"Missing {kind} column '{column.Name}' (a column of nulls is accepted for unknown values)."];
            }
        }

        if (errors.Count > 0)
        {
            throw new ModuleException(ErrorKind.Invalid, "The columns do not match the model's schema.", errors);
        }

        return new PositionalRows(layout, positions, columns.Count, rows);
    }

    public override bool TryConvert(int index, RowScratch scratch)
    {
        var values = _rows[index];
        if (values is null || values.Length != _width)
        {
            var got = values is null ? "null" : values.Length.ToString(CultureInfo.InvariantCulture);
            scratch.Errors[Row(index)] = [$"Expected an array of {_width} values, one per column; got {got}."];
            return false;
        }

        var ok = true;
        for (var i = 0; i < _layout.Length; i++)
        {
            if (!InputNormalizer.TryConvert(_layout[i], i, values[_positions[i]], scratch.Input, out var reason))
            {
                scratch.Errors[$"{Row(index)}.{_layout[i].Column.Name}"] = [reason];
                ok = false;
            }
        }

        return ok;
    }

    private static string Field(int position) => string.Create(CultureInfo.InvariantCulture, $"columns[{position}]");

    private static string Row(int index) => string.Create(CultureInfo.InvariantCulture, $"rows[{index}]");
}
