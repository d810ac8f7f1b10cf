using Apache.Arrow;
using Apache.Arrow.Ipc;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace Formanova.Tests.Data.Import;

/// <summary>One column of a Parquet fixture: its field and how to write a range of its values into a row group.</summary>
internal sealed record ParquetColumn(DataField Field, int Count, Func<ParquetRowGroupWriter, int, int, Task> Write);

/// <summary>Parquet and Arrow IPC files built in code with the libraries' own writers, so no binary fixture is committed.</summary>
internal static class ColumnarFixtures
{
    public static ParquetColumn Column<T>(DataField field, params T?[] values)
        where T : struct =>
        new(field, values.Length, (group, start, count) => group.WriteAsync<T>(field, values.AsMemory(start, count), null, null, default));

    public static ParquetColumn Column<T>(string name, params T?[] values)
        where T : struct => Column(new DataField<T?>(name), values);

    public static ParquetColumn Strings(string name, params string?[] values)
    {
        var field = new DataField<string>(name, true);
        return new(
            field,
            values.Length,
            (group, start, count) => group.WriteAsync(field, new ArraySegment<string?>(values, start, count)!, null));
    }

    /// <summary>A Parquet file whose row groups hold at most <paramref name="rowGroupRows"/> rows each.</summary>
    public static async Task<byte[]> ParquetAsync(int rowGroupRows, params ParquetColumn[] columns)
    {
        using var output = new MemoryStream();
        var rows = columns[0].Count;
        var schema = new ParquetSchema(columns.Select(c => (Parquet.Schema.Field)c.Field));
        await using (var writer = await ParquetWriter.CreateAsync(schema, output))
        {
            for (var start = 0; start < rows; start += rowGroupRows)
            {
                using var group = writer.CreateRowGroup();
                foreach (var column in columns)
                {
                    await column.Write(group, start, Math.Min(rowGroupRows, rows - start));
                }
            }
        }

        return output.ToArray();
    }

    public static Task<byte[]> ParquetAsync(params ParquetColumn[] columns) => ParquetAsync(int.MaxValue, columns);

    /// <summary>A Parquet file written by the class serializer, which writes nested (list, struct) columns.</summary>
    public static async Task<byte[]> SerializedParquetAsync<T>(IEnumerable<T> rows)
    {
        using var output = new MemoryStream();
        await ParquetSerializer.SerializeAsync(rows, output);
        return output.ToArray();
    }

    /// <summary>An Arrow IPC file (<paramref name="file"/>) or stream with the given record batches.</summary>
    public static async Task<byte[]> ArrowAsync(bool file, params RecordBatch[] batches)
    {
        using var output = new MemoryStream();
        using (ArrowStreamWriter writer = file
            ? new ArrowFileWriter(output, batches[0].Schema, leaveOpen: true)
            : new ArrowStreamWriter(output, batches[0].Schema, leaveOpen: true))
        {
            foreach (var batch in batches)
            {
                await writer.WriteRecordBatchAsync(batch);
            }

            await writer.WriteEndAsync();
        }

        return output.ToArray();
    }

    public static async Task<List<Dictionary<string, object?>>> ReadParquetAsync(byte[] bytes)
    {
        using var input = new MemoryStream(bytes);
        await using var reader = await ParquetReader.CreateAsync(input);
        var rows = new List<Dictionary<string, object?>>();
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            var group = reader.OpenRowGroupReader(g);
            var count = (int)group.RowCount;
            var first = rows.Count;
            rows.AddRange(Enumerable.Range(0, count).Select(_ => new Dictionary<string, object?>(StringComparer.Ordinal)));
            foreach (var field in reader.Schema.DataFields)
            {
                var values = await ReadAsync(group, field, count);
                for (var i = 0; i < count; i++)
                {
                    rows[first + i][field.Name] = values[i];
                }
            }
        }

        return rows;
    }

    private static async Task<object?[]> ReadAsync(ParquetRowGroupReader group, DataField field, int count)
    {
        var type = field.ClrType;
        if (type == typeof(double))
        {
            return await ReadStructAsync<double>(group, field, count);
        }

        if (type == typeof(long))
        {
            return await ReadStructAsync<long>(group, field, count);
        }

        if (type == typeof(bool))
        {
            return await ReadStructAsync<bool>(group, field, count);
        }

        if (type == typeof(DateTime))
        {
            return await ReadStructAsync<DateTime>(group, field, count);
        }

        var strings = new string?[count];
        await group.ReadAsync(field, strings.AsMemory());
        return strings;
    }

    private static async Task<object?[]> ReadStructAsync<T>(ParquetRowGroupReader group, DataField field, int count)
        where T : struct
    {
        var values = new T?[count];
        await group.ReadAsync<T>(field, values.AsMemory());
        return values.Select(v => (object?)v).ToArray();
    }
}
