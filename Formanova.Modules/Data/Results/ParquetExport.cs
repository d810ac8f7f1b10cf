using Parquet;
using Parquet.Schema;

namespace Formanova.Modules.Data.Results;

/// <summary>
/// Streamed Parquet writers for dataset rows and batch predictions: rows are buffered column by column up to
/// <c>Data:ExportRowGroupRows</c>, written as one row group and sent, so memory holds one row group whatever the size.
/// </summary>
internal static class ParquetExport
{
    public static Task WriteRowsAsync(RowStream stream, Stream output, int rowGroupRows, CancellationToken cancellationToken)
    {
        var columns = stream.Columns.Select(c => ColumnBuffer.For(c.Name, c.Type, rowGroupRows)).ToArray();
        return WriteAsync(columns, stream.Rows, output, cancellationToken);
    }

    public static Task WritePredictionsAsync(
        IAsyncEnumerable<StoredPrediction> predictions,
        Stream output,
        int rowGroupRows,
        CancellationToken cancellationToken)
    {
        ColumnBuffer[] columns =
        [
            new StructBuffer<long>(new DataField<long?>("rowId"), rowGroupRows, v => (long)v),
            ColumnBuffer.For("label", ColumnType.Categorical, rowGroupRows),
            ColumnBuffer.For("value", ColumnType.Numeric, rowGroupRows),
            ColumnBuffer.For("score", ColumnType.Numeric, rowGroupRows),
        ];
        return WriteAsync(columns, Rows(predictions, cancellationToken), output, cancellationToken);

        static async IAsyncEnumerable<object?[]> Rows(
            IAsyncEnumerable<StoredPrediction> predictions,
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var p in predictions.WithCancellation(cancellationToken))
            {
                yield return [p.RowId, p.Label, p.Value, p.Score];
            }
        }
    }

    private static async Task WriteAsync(
        ColumnBuffer[] columns,
        IAsyncEnumerable<object?[]> rows,
        Stream output,
        CancellationToken cancellationToken)
    {
        // The writer writes synchronously, which the HTTP response refuses: it writes into this buffer instead, and
        // each finished row group is sent on asynchronously.
        await using var buffer = new DrainStream();
        var schema = new ParquetSchema(columns.Select(c => (Field)c.Field));
        var writer = await ParquetWriter.CreateAsync(schema, buffer, new ParquetOptions(), false, cancellationToken);
        await using (writer)
        {
            var count = 0;
            await foreach (var row in rows.WithCancellation(cancellationToken))
            {
                for (var c = 0; c < columns.Length; c++)
                {
                    columns[c].Add(row[c]);
                }

                if (++count == columns[0].Capacity)
                {
                    await WriteGroupAsync();
                    count = 0;
                }
            }

            if (count > 0)
            {
                await WriteGroupAsync();
            }
        }

        await buffer.DrainAsync(output, cancellationToken);
        await output.FlushAsync(cancellationToken);

        async Task WriteGroupAsync()
        {
            using (var group = writer.CreateRowGroup())
            {
                foreach (var column in columns)
                {
                    await column.WriteAsync(group, cancellationToken);
                }
            }

            await buffer.DrainAsync(output, cancellationToken);
        }
    }

    /// <summary>One column's values of the row group being filled.</summary>
    private abstract class ColumnBuffer(DataField field, int capacity)
    {
        public DataField Field { get; } = field;

        public int Capacity { get; } = capacity;

        public static ColumnBuffer For(string name, ColumnType type, int capacity) => type switch
        {
            ColumnType.Numeric => new StructBuffer<double>(new DataField<double?>(name), capacity, v => (double)v),
            ColumnType.Boolean => new StructBuffer<bool>(new DataField<bool?>(name), capacity, v => (bool)v),
            ColumnType.Datetime => new StructBuffer<DateTime>(
                new DateTimeDataField(name, DateTimeFormat.Timestamp, true, DateTimeTimeUnit.Micros, isNullable: true),
                capacity,
                v => ((DateTimeOffset)v).UtcDateTime),
            _ => new StringBuffer(new DataField<string>(name, true), capacity),
        };

        public abstract void Add(object? value);

        public abstract Task WriteAsync(ParquetRowGroupWriter group, CancellationToken cancellationToken);
    }

    private sealed class StructBuffer<T>(DataField field, int capacity, Func<object, T> convert) : ColumnBuffer(field, capacity)
        where T : struct
    {
        private readonly T?[] _values = new T?[capacity];
        private int _count;

        public override void Add(object? value) => _values[_count++] = value is null ? null : convert(value);

        public override async Task WriteAsync(ParquetRowGroupWriter group, CancellationToken cancellationToken)
        {
            await group.WriteAsync<T>(Field, _values.AsMemory(0, _count), null, null, cancellationToken);
            _count = 0;
        }
    }

    private sealed class StringBuffer(DataField field, int capacity) : ColumnBuffer(field, capacity)
    {
        private readonly string?[] _values = new string?[capacity];
        private int _count;

        public override void Add(object? value) => _values[_count++] = (string?)value;

        public override async Task WriteAsync(ParquetRowGroupWriter group, CancellationToken cancellationToken)
        {
            await group.WriteAsync(Field, new ArraySegment<string?>(_values, 0, _count)!, null);
            _count = 0;
        }
    }

    /// <summary>A forward-only buffer: it takes the writer's synchronous writes and hands them on when drained.</summary>
    private sealed class DrainStream : Stream
    {
        private readonly MemoryStream _pending = new();

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public async Task DrainAsync(Stream output, CancellationToken cancellationToken)
        {
            await output.WriteAsync(_pending.GetBuffer().AsMemory(0, (int)_pending.Length), cancellationToken);
            _pending.SetLength(0);
        }

        public override void Write(byte[] buffer, int offset, int count) => _pending.Write(buffer, offset, count);

        public override void Write(ReadOnlySpan<byte> buffer) => _pending.Write(buffer);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            _pending.Write(buffer, offset, count);
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _pending.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _pending.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
