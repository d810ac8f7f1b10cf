using System.Runtime.CompilerServices;
using Formanova.Modules.Data.Schema;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Rows;

namespace Formanova.Modules.Data.Import;

/// <summary>Turns a Parquet or Arrow IPC upload into <see cref="ParsedRow"/>s, one decoded row group or record batch at a time.</summary>
internal static class ColumnarSources
{
    /// <summary>Rows converted per step: a failure inside a slice is caught for these, then they are handed on.</summary>
    private const int Step = 1024;

    public static async IAsyncEnumerable<ParsedRow> ReadAsync(
        Stream upload,
        ImportFormat format,
        CompiledSchema schema,
        UploadSpool spool,
        DataOptions.ImportLimits limits,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var file = await ColumnarFile.OpenAsync(upload, format, spool, limits, cancellationToken);
        var names = file.Fields.Select(f => f.Name).ToArray();
        var map = RowSources.MapHeader(names, schema, $"{file.Kind} file", $"{file.Kind} file's columns");
        long row = 0;
        var rows = new List<ParsedRow>(Step);
        await foreach (var batch in file.ReadBatchesAsync(cancellationToken))
        {
            using (batch)
            {
                for (var start = 0; start < batch.Rows; start += Step)
                {
                    rows.Clear();
                    Convert(file.Kind, batch, start, Math.Min(batch.Rows, start + Step), map, schema, limits.MaxFieldChars, ref row, rows);
                    foreach (var parsed in rows)
                    {
                        yield return parsed;
                    }
                }
            }
        }

        if (row == 0)
        {
            throw ModuleException.Invalid("content", $"The {file.Kind} file has columns but no rows.");
        }
    }

    private static void Convert(
        string kind,
        ColumnarBatch batch,
        int start,
        int end,
        int[] map,
        CompiledSchema schema,
        int maxFieldChars,
        ref long row,
        List<ParsedRow> rows)
    {
        try
        {
            for (var r = start; r < end; r++)
            {
                var parsed = new ParsedRow(++row, schema.Columns.Length);
                for (var c = 0; c < map.Length; c++)
                {
                    var column = schema.Columns[map[c]];
                    if (Assign(column, batch.Columns[c](r), maxFieldChars, out var value) is { } failure)
                    {
                        parsed.Reject(column.Name, failure.Reason, failure.Message);
                    }
                    else
                    {
                        parsed.Values[column.Index] = value;
                    }
                }

                rows.Add(parsed);
            }
        }
        catch (Exception ex) when (ex is not (ModuleException or OperationCanceledException or OutOfMemoryException))
        {
            // The Arrow reader checks a batch's buffers lazily: a corrupt offset fails when its value is read.
            throw ModuleException.Invalid(
                "content",
                $"The {kind} file cannot be read at row {row}: it is corrupt ({ex.GetType().Name}: {ex.Message.ReplaceLineEndings(" ")}).");
        }
    }

    /// <summary>
    /// A value of the column's own type is only checked against its constraints; any other value is converted through
    /// its text, as a CSV field would be: a string "42" fills a numeric column, a number fills a categorical one with
    /// its exact digits, and a boolean in a numeric column is a type error.
    /// </summary>
    public static ValueFailure? Assign(CompiledColumn column, object? source, int maxFieldChars, out object? value)
    {
        switch (source)
        {
            case null:
                value = null;
                return column.CheckConstraints(null);
            case string text:
                if (text.Length > maxFieldChars)
                {
                    throw new ModuleException(
                        ErrorKind.TooLarge,
                        $"A value of '{column.Name}' is longer than {maxFieldChars} characters (Data:Import:MaxFieldChars).");
                }

                return column.FromText(text, out value);
        }

        value = (column.Definition.Type, source) switch
        {
            (ColumnType.Numeric, double number) when double.IsFinite(number) => source,
            (ColumnType.Numeric, long number) => (double)number,
            (ColumnType.Numeric, ulong number) => (double)number,
            (ColumnType.Numeric, decimal number) => (double)number,
            (ColumnType.Boolean, bool) or (ColumnType.Datetime, DateTimeOffset) => source,
            _ => null,
        };
        return value is null ? column.FromText(ValueText.Format(source), out value) : column.CheckConstraints(value);
    }
}
