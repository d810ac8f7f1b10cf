using Microsoft.ML;
using Microsoft.ML.Data;

namespace Formanova.Modules.Model.Training;

/// <summary>One growable column of a training table, typed the way the pipeline reads it.</summary>
internal abstract class ColumnBuffer(string name, DataViewType type)
{
    public string Name { get; } = name;

    public DataViewType Type { get; } = type;

    public abstract long EstimatedBytes { get; }

    public abstract Delegate CreateGetter(ColumnarDataView.Cursor cursor);

    /// <summary>A copy whose row i holds this column's row <c>order[i]</c> (permutation importance shuffles one column so).</summary>
    public abstract ColumnBuffer Reordered(int[] order);
}

internal sealed class ColumnBuffer<T>(string name, DataViewType type, int bytesPerValue) : ColumnBuffer(name, type)
{
    private T[] _values = new T[1024];
    private int _count;
    private long _extraBytes;

    public int Count => _count;

    public T this[int index] => _values[index];

    public override long EstimatedBytes => ((long)_values.Length * bytesPerValue) + _extraBytes;

    public void Add(T value, int extraBytes = 0)
    {
        if (_count == _values.Length)
        {
            Array.Resize(ref _values, _values.Length * 2);
        }

        _values[_count++] = value;
        _extraBytes += extraBytes;
    }

    public override ColumnBuffer Reordered(int[] order)
    {
        var copy = new ColumnBuffer<T>(Name, Type, bytesPerValue);
        foreach (var index in order)
        {
            copy.Add(_values[index]);
        }

        return copy;
    }

    public override Delegate CreateGetter(ColumnarDataView.Cursor cursor)
    {
        var values = _values;
        return (ValueGetter<T>)((ref T value) => value = values[cursor.Row]);
    }
}

/// <summary>
/// An in-memory, column-oriented IDataView over rows streamed in at run time: ML.NET's own in-memory loaders want
/// a compile-time row type, and a column of floats costs 4 bytes per row where a row object costs far more.
/// </summary>
internal sealed class ColumnarDataView : IDataView
{
    private readonly IReadOnlyList<ColumnBuffer> _columns;
    private readonly int _rows;

    public ColumnarDataView(IReadOnlyList<ColumnBuffer> columns, int rows)
    {
        _columns = columns;
        _rows = rows;
        var builder = new DataViewSchema.Builder();
        foreach (var column in columns)
        {
            builder.AddColumn(column.Name, column.Type);
        }

        Schema = builder.ToSchema();
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _rows;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => [new Cursor(this)];

    internal sealed class Cursor(ColumnarDataView view) : DataViewRowCursor
    {
        private long _position = -1;

        public int Row => (int)_position;

        public override DataViewSchema Schema => view.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool IsColumnActive(DataViewSchema.Column column) => true;

        public override bool MoveNext()
        {
            if (_position < view._rows)
            {
                _position++;
            }

            return _position < view._rows;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
            view._columns[column.Index].CreateGetter(this) as ValueGetter<TValue>
            ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}.");

        public override ValueGetter<DataViewRowId> GetIdGetter() =>
            (ref DataViewRowId value) => value = new DataViewRowId((ulong)_position, 0);
    }
}
