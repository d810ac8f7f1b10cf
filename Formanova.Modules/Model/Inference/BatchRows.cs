using System.Collections.Concurrent;
using System.Globalization;

namespace Formanova.Modules.Model.Inference;

/// <summary>
/// The rows of a batch as the prediction loop reads them: row i converted into a chunk's scratch, or its errors
/// collected there. Both shapes convert each row through the version's <see cref="CompiledContract"/>, so the same
/// value is accepted or refused, and named, whichever way it comes in.
/// </summary>
internal abstract class BatchRows
{
    public abstract int Count { get; }

    /// <summary>The columns sent that the model does not read, once each, in the order first seen.</summary>
    public abstract IReadOnlyList<string> Ignored { get; }

    /// <summary>False when row <paramref name="index"/> is invalid; its errors are then in <c>scratch.Errors</c>.</summary>
    public abstract bool TryConvert(int index, RowScratch scratch);
}

/// <summary>Rows as dictionaries (the REST batch): each row looks its columns up by name and may miss or add some.</summary>
internal sealed class NamedRows(CompiledContract contract, IReadOnlyList<IReadOnlyDictionary<string, object?>> rows, bool strict)
    : BatchRows
{
    // Rows convert in parallel; a key's first sighting (by row) orders the list.
    private readonly ConcurrentDictionary<string, int> _ignored = new(StringComparer.Ordinal);

    public override int Count => rows.Count;

    public override IReadOnlyList<string> Ignored =>
        [.. _ignored.OrderBy(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key)];

    public override bool TryConvert(int index, RowScratch scratch)
    {
        List<string>? ignored = null;
        var ok = contract.TryConvert(rows[index], index, strict, scratch.Errors, scratch.Input, ref ignored);
        foreach (var key in ignored ?? [])
        {
            // Most rows carry the same extra keys (an id, the label): a lock-free read settles them once seen earlier.
            if (!_ignored.TryGetValue(key, out var first) || index < first)
            {
                _ignored.AddOrUpdate(key, index, (_, seen) => Math.Min(seen, index));
            }
        }

        return ok;
    }
}

/// <summary>
/// Positional rows (a batch job's chunk): the columns are matched to the model's inputs once for the whole call,
/// then each row is read by index, with no per-row dictionary or name lookup.
/// </summary>
internal sealed class PositionalRows : BatchRows
{
    private readonly CompiledContract _contract;
    private readonly int[] _positions;
    private readonly int _width;
    private readonly IReadOnlyList<object?[]> _rows;

    private PositionalRows(CompiledContract contract, int[] positions, int width, IReadOnlyList<object?[]> rows, List<string> ignored)
    {
        _contract = contract;
        _positions = positions;
        _width = width;
        _rows = rows;
        Ignored = ignored;
    }

    public override int Count => _rows.Count;

    public override IReadOnlyList<string> Ignored { get; }

    /// <summary>
    /// Maps every model input to its position in <paramref name="columns"/> (null entries are skipped), or throws
    /// Invalid naming each repeated or, in strict mode, unused (<c>columns[j]</c>) and missing (<c>columns.name</c>) column.
    /// </summary>
    public static PositionalRows Create(
        CompiledContract contract,
        IReadOnlyList<string?> columns,
        IReadOnlyList<object?[]> rows,
        bool strict)
    {
        var ignored = new List<string>();
        var positions = contract.Bind(columns, strict, ignored);
        return new PositionalRows(contract, positions, columns.Count, rows, ignored);
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

        return _contract.TryConvert(values, _positions, Row(index), scratch.Errors, scratch.Input);
    }

    private static string Row(int index) => string.Create(CultureInfo.InvariantCulture, $"rows[{index}]");
}
