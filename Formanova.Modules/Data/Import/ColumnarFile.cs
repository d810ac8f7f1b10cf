using System.Globalization;
using System.Runtime.CompilerServices;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using Formanova.Modules.Shared.Errors;
using Parquet;
using Parquet.Schema;

namespace Formanova.Modules.Data.Import;

/// <summary>
/// One top-level column of a columnar file and the dataset type its declared type maps to: null for strings (and
/// the values read as strings: times of day, UUIDs), which the import parses and inference types by its text rules.
/// </summary>
internal sealed record ColumnarField(string Name, ColumnType? Type);

/// <summary>
/// One decoded slice of a columnar file (a Parquet row group or an Arrow record batch): per column, a reader of a
/// row's value as <see cref="double"/>, <see cref="long"/> or <see cref="ulong"/> (integers beyond ±2^53, which a
/// double cannot hold exactly), <see cref="decimal"/>, <see cref="bool"/>, <see cref="string"/>,
/// <see cref="DateTimeOffset"/> (UTC) or null.
/// </summary>
internal sealed class ColumnarBatch(int rows, Func<int, object?>[] columns, IDisposable? owner = null) : IDisposable
{
    public int Rows { get; } = rows;

    public Func<int, object?>[] Columns { get; } = columns;

    public void Dispose() => owner?.Dispose();
}

/// <summary>
/// A Parquet or Arrow IPC file (file or stream format) read through the served Parquet.Net and Apache.Arrow
/// readers, one row group or record batch at a time. Every failure of those readers on the file's bytes (a truncated
/// or corrupt file, a hostile length) becomes a 400 naming the format and the reader's reason, never a 500.
/// </summary>
internal abstract class ColumnarFile : IAsyncDisposable
{
    private const long MaxExactInteger = 1L << 53;

    private static readonly byte[] ParquetMagic = "PAR1"u8.ToArray();
    private static readonly byte[] ArrowMagic = "ARROW1"u8.ToArray();

    protected ColumnarFile(Stream file, string kind, DataOptions.ImportLimits limits)
    {
        File = file;
        Kind = kind;
        Limits = limits;
    }

    public string Kind { get; }

    public IReadOnlyList<ColumnarField> Fields { get; protected set; } = [];

    protected Stream File { get; }

    protected DataOptions.ImportLimits Limits { get; }

    /// <summary>Copies the upload to a temporary file (see <see cref="UploadSpool"/>), deleted with the result, and opens it.</summary>
    public static async Task<ColumnarFile> OpenAsync(
        Stream upload,
        ImportFormat format,
        UploadSpool spool,
        DataOptions.ImportLimits limits,
        CancellationToken cancellationToken) =>
        await OpenAsync(await spool.SpoolAsync(upload, cancellationToken), format, limits, cancellationToken);

    /// <summary>Opens a seekable file; takes ownership of it.</summary>
    public static async Task<ColumnarFile> OpenAsync(
        Stream file,
        ImportFormat format,
        DataOptions.ImportLimits limits,
        CancellationToken cancellationToken)
    {
        try
        {
            ColumnarFile opened = format == ImportFormat.Parquet
                ? new ParquetColumnarFile(file, limits)
                : new ArrowColumnarFile(file, limits);
            try
            {
                await opened.OpenAsync(cancellationToken);
                return opened;
            }
            catch
            {
                await opened.DisposeAsync();
                throw;
            }
        }
        catch (Exception ex) when (IsFileProblem(ex))
        {
            throw Unreadable(format == ImportFormat.Parquet ? "Parquet" : "Arrow IPC", ex);
        }
    }

    /// <summary>Each slice in file order; the caller disposes each before asking for the next.</summary>
    public async IAsyncEnumerable<ColumnarBatch> ReadBatchesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var index = 0;
        while (true)
        {
            ColumnarBatch? batch;
            try
            {
                batch = await ReadBatchAsync(index, cancellationToken);
            }
            catch (Exception ex) when (IsFileProblem(ex))
            {
                throw Unreadable(Kind, ex);
            }

            if (batch is null)
            {
                yield break;
            }

            index++;
            yield return batch;
        }
    }

    public virtual async ValueTask DisposeAsync()
    {
        await File.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    protected abstract Task OpenAsync(CancellationToken cancellationToken);

    protected abstract Task<ColumnarBatch?> ReadBatchAsync(int index, CancellationToken cancellationToken);

    protected void CheckSlice(string what, long rows, long? bytes)
    {
        if (rows > Limits.MaxBatchRows || bytes > Limits.MaxBatchBytes)
        {
            var size = bytes is { } b ? string.Create(CultureInfo.InvariantCulture, $" and {b} bytes uncompressed") : "";
            throw new ModuleException(
                ErrorKind.TooLarge,
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"{what} has {rows} rows{size}; an import decodes one at a time and takes at most {Limits.MaxBatchRows} rows ")
                + $"and {Limits.MaxBatchBytes} bytes in one (Data:Import:MaxBatchRows, Data:Import:MaxBatchBytes). "
                + "Write the file with smaller row groups or record batches.");
        }
    }

    protected static ModuleException Refused(string column, string what) => ModuleException.Invalid(
        "content",
        $"The column '{column}' is {what}, which a dataset column cannot hold: only numbers, booleans, strings, dates and "
        + "timestamps import. Drop or flatten it (one column per field) before the upload.");

    /// <summary>Integers a double holds exactly become doubles; wider ones keep their exact value for text columns.</summary>
    protected static object Integer(long value) => value is >= -MaxExactInteger and <= MaxExactInteger ? (double)value : (object)value;

    protected static object Integer(ulong value) => value <= MaxExactInteger ? (double)value : (object)value;

    /// <summary>NaN is how many writers spell a missing float; infinities stay and fail a numeric column's check.</summary>
    protected static object? Float(double value) => double.IsNaN(value) ? null : value;

    protected static string TimeOfDay(TimeOnly time) => time.ToString("HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture);

    private static bool IsFileProblem(Exception ex) =>
        ex is not (ModuleException or OperationCanceledException or OutOfMemoryException);

    private static ModuleException Unreadable(string kind, Exception ex)
    {
        var reason = ex.Message.ReplaceLineEndings(" ");
        reason = reason.Length > 300 ? reason[..300] + "…" : reason;
        return ModuleException.Invalid(
            "content",
            $"The {kind} file cannot be read: it is truncated, corrupt or not a {kind} file ({ex.GetType().Name}: {reason}).");
    }

    protected static async Task<bool> EndsWithAsync(Stream file, byte[] magic, CancellationToken cancellationToken)
    {
        if (file.Length < magic.Length)
        {
            return false;
        }

        var tail = new byte[magic.Length];
        file.Position = file.Length - magic.Length;
        await file.ReadExactlyAsync(tail, cancellationToken);
        file.Position = 0;
        return tail.AsSpan().SequenceEqual(magic);
    }

    protected static async Task<bool> StartsWithAsync(Stream file, byte[] magic, CancellationToken cancellationToken)
    {
        var head = new byte[magic.Length];
        var read = await file.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken);
        file.Position = 0;
        return read == head.Length && head.AsSpan().SequenceEqual(magic);
    }

    private sealed class ParquetColumnarFile(Stream file, DataOptions.ImportLimits limits) : ColumnarFile(file, "Parquet", limits)
    {
        private ParquetReader? _reader;
        private DataField[] _fields = [];

        protected override async Task OpenAsync(CancellationToken cancellationToken)
        {
            if (!await StartsWithAsync(File, ParquetMagic, cancellationToken)
                || !await EndsWithAsync(File, ParquetMagic, cancellationToken))
            {
                throw ModuleException.Invalid(
                    "content",
                    "The upload is not a complete Parquet file: a Parquet file starts and ends with the bytes 'PAR1', "
                    + "so it is truncated or in another format.");
            }

            // The reader allocates the footer length it reads before reading the footer: a hostile length is checked first.
            var length = new byte[4];
            File.Position = File.Length - 8;
            await File.ReadExactlyAsync(length, cancellationToken);
            File.Position = 0;
            var footer = BitConverter.ToUInt32(length);
            if (footer > File.Length - 12)
            {
                throw ModuleException.Invalid(
                    "content",
                    $"The Parquet file is corrupt: its footer claims {footer} bytes, more than the file holds ({File.Length} bytes).");
            }

            _reader = await ParquetReader.CreateAsync(File, new ParquetOptions(), leaveStreamOpen: true, cancellationToken);
            var fields = new List<DataField>();
            foreach (var field in _reader.Schema.Fields)
            {
                if (field.SchemaType != SchemaType.Data || field is not DataField data)
                {
                    throw Refused(field.Name, $"a nested {field.SchemaType.ToString().ToLowerInvariant()} column");
                }

                if (data.IsArray || data.MaxRepetitionLevel > 0)
                {
                    throw Refused(field.Name, "a repeated (list) column");
                }

                fields.Add(data);
            }

            _fields = [.. fields];
            Fields = _fields.Select(f => new ColumnarField(f.Name, TypeOf(f))).ToList();
        }

        protected override async Task<ColumnarBatch?> ReadBatchAsync(int index, CancellationToken cancellationToken)
        {
            if (index >= _reader!.RowGroupCount)
            {
                return null;
            }

            var group = _reader.OpenRowGroupReader(index);
            if (group.RowCount is < 0 or > int.MaxValue)
            {
                throw ModuleException.Invalid("content", $"Row group {index + 1} of the Parquet file declares an impossible row count.");
            }

            // The metadata's sizes are checked before a value is decoded, so a huge row group is refused, not loaded.
            CheckSlice($"Row group {index + 1} of the Parquet file", group.RowCount, group.RowGroup.TotalByteSize);
            var rows = (int)group.RowCount;
            var columns = new Func<int, object?>[_fields.Length];
            for (var c = 0; c < _fields.Length; c++)
            {
                columns[c] = await ReadColumnAsync(group, _fields[c], rows, cancellationToken);
            }

            return new ColumnarBatch(rows, columns);
        }

        private static ColumnType? TypeOf(DataField field)
        {
            var type = field.ClrType;
            if (type == typeof(bool))
            {
                return ColumnType.Boolean;
            }

            if (type == typeof(DateTime) || type == typeof(DateOnly) || type == typeof(DateTimeOffset))
            {
                return ColumnType.Datetime;
            }

            if (type == typeof(string) || type == typeof(ReadOnlyMemory<char>) || type == typeof(Guid)
                || type == typeof(TimeSpan) || type == typeof(TimeOnly))
            {
                return null;
            }

            if (type == typeof(sbyte) || type == typeof(byte) || type == typeof(short) || type == typeof(ushort) || type == typeof(int)
                || type == typeof(uint) || type == typeof(long) || type == typeof(ulong) || type == typeof(float)
                || type == typeof(double) || type == typeof(decimal) || type == typeof(Half))
            {
                return ColumnType.Numeric;
            }

            throw Refused(field.Name, $"binary or of an unsupported type ({type.Name})");
        }

        private static Task<Func<int, object?>> ReadColumnAsync(
            ParquetRowGroupReader group,
            DataField field,
            int rows,
            CancellationToken ct)
        {
            var type = field.ClrType;
            return type switch
            {
                _ when type == typeof(double) => ReadAsync<double>(group, field, rows, v => Float(v), ct),
                _ when type == typeof(float) => ReadAsync<float>(group, field, rows, v => Float(v), ct),
                _ when type == typeof(Half) => ReadAsync<Half>(group, field, rows, v => Float((double)v), ct),
                _ when type == typeof(long) => ReadAsync<long>(group, field, rows, Integer, ct),
                _ when type == typeof(ulong) => ReadAsync<ulong>(group, field, rows, Integer, ct),
                _ when type == typeof(int) => ReadAsync<int>(group, field, rows, v => (double)v, ct),
                _ when type == typeof(uint) => ReadAsync<uint>(group, field, rows, v => (double)v, ct),
                _ when type == typeof(short) => ReadAsync<short>(group, field, rows, v => (double)v, ct),
                _ when type == typeof(ushort) => ReadAsync<ushort>(group, field, rows, v => (double)v, ct),
                _ when type == typeof(sbyte) => ReadAsync<sbyte>(group, field, rows, v => (double)v, ct),
                _ when type == typeof(byte) => ReadAsync<byte>(group, field, rows, v => (double)v, ct),
                _ when type == typeof(decimal) => ReadAsync<decimal>(group, field, rows, v => v, ct),
                _ when type == typeof(bool) => ReadAsync<bool>(group, field, rows, v => v, ct),
                _ when type == typeof(DateTime) => ReadAsync<DateTime>(group, field, rows, v => Utc(v), ct),
                _ when type == typeof(DateTimeOffset) => ReadAsync<DateTimeOffset>(group, field, rows, v => v.ToUniversalTime(), ct),
                _ when type == typeof(DateOnly) => ReadAsync<DateOnly>(
                    group, field, rows, v => new DateTimeOffset(v.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero), ct),
                _ when type == typeof(TimeOnly) => ReadAsync<TimeOnly>(group, field, rows, v => TimeOfDay(v), ct),
                _ when type == typeof(TimeSpan) => ReadAsync<TimeSpan>(group, field, rows, v => TimeOfDay(TimeOnly.FromTimeSpan(v)), ct),
                _ when type == typeof(Guid) => ReadAsync<Guid>(group, field, rows, v => v.ToString("D"), ct),
                _ => ReadStringsAsync(group, field, rows, ct),
            };
        }

        private static DateTimeOffset Utc(DateTime value) => value.Kind == DateTimeKind.Local
            ? new DateTimeOffset(value.ToUniversalTime())
            : new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc));

        /// <summary>The column decoded into one typed array; a value is boxed only when its row is read.</summary>
        private static async Task<Func<int, object?>> ReadAsync<T>(
            ParquetRowGroupReader group,
            DataField field,
            int rows,
            Func<T, object?> box,
            CancellationToken cancellationToken)
            where T : struct
        {
            var values = new T?[rows];
            await group.ReadAsync<T>(field, values.AsMemory(), null, cancellationToken);
            return row => values[row] is { } value ? box(value) : null;
        }

        private static async Task<Func<int, object?>> ReadStringsAsync(
            ParquetRowGroupReader group,
            DataField field,
            int rows,
            CancellationToken cancellationToken)
        {
            var values = new string?[rows];
            await group.ReadAsync(field, values.AsMemory(), null, cancellationToken);
            return row => values[row];
        }

        public override async ValueTask DisposeAsync()
        {
            if (_reader is not null)
            {
                await _reader.DisposeAsync();
            }

            await base.DisposeAsync();
        }
    }

    private sealed class ArrowColumnarFile(Stream file, DataOptions.ImportLimits limits) : ColumnarFile(file, "Arrow IPC", limits)
    {
        private ArrowStreamReader? _reader;

        protected override async Task OpenAsync(CancellationToken cancellationToken)
        {
            // The file format opens with the magic bytes and closes with them after its footer; the stream format has
            // neither, so the magic at the start tells the two apart.
            if (await StartsWithAsync(File, ArrowMagic, cancellationToken))
            {
                if (!await EndsWithAsync(File, ArrowMagic, cancellationToken))
                {
                    throw ModuleException.Invalid(
                        "content",
                        "The Arrow IPC file is truncated: it starts with the bytes 'ARROW1' but does not end with them.");
                }

                _reader = new ArrowFileReader(File, leaveOpen: true);
            }
            else
            {
                _reader = new ArrowStreamReader(File, leaveOpen: true);
            }

            var schema = await _reader.GetSchema(cancellationToken)
                ?? throw ModuleException.Invalid("content", "The Arrow IPC stream has no schema message.");
            Fields = schema.FieldsList.Select(f => new ColumnarField(f.Name, TypeOf(f.Name, f.DataType))).ToList();
        }

        protected override async Task<ColumnarBatch?> ReadBatchAsync(int index, CancellationToken cancellationToken)
        {
            var batch = await _reader!.ReadNextRecordBatchAsync(cancellationToken);
            if (batch is null)
            {
                return null;
            }

            try
            {
                // The reader decodes a whole batch before its row count is known; its body is bounded by the upload size.
                CheckSlice($"Record batch {index + 1} of the Arrow IPC data", batch.Length, null);
                var columns = new Func<int, object?>[batch.ColumnCount];
                for (var c = 0; c < columns.Length; c++)
                {
                    columns[c] = Accessor(batch.Schema.FieldsList[c].Name, batch.Column(c));
                }

                return new ColumnarBatch(batch.Length, columns, batch);
            }
            catch
            {
                batch.Dispose();
                throw;
            }
        }

        private static ColumnType? TypeOf(string name, IArrowType type) => type.TypeId switch
        {
            ArrowTypeId.Null or ArrowTypeId.String or ArrowTypeId.LargeString or ArrowTypeId.StringView
                or ArrowTypeId.Time32 or ArrowTypeId.Time64 => null,
            ArrowTypeId.Boolean => ColumnType.Boolean,
            ArrowTypeId.Date32 or ArrowTypeId.Date64 or ArrowTypeId.Timestamp => ColumnType.Datetime,
            ArrowTypeId.Int8 or ArrowTypeId.Int16 or ArrowTypeId.Int32 or ArrowTypeId.Int64 or ArrowTypeId.UInt8 or ArrowTypeId.UInt16
                or ArrowTypeId.UInt32 or ArrowTypeId.UInt64 or ArrowTypeId.HalfFloat or ArrowTypeId.Float or ArrowTypeId.Double
                or ArrowTypeId.Decimal32 or ArrowTypeId.Decimal64 or ArrowTypeId.Decimal128 or ArrowTypeId.Decimal256 => ColumnType.Numeric,
            ArrowTypeId.Dictionary => TypeOf(name, ((DictionaryType)type).ValueType),
            ArrowTypeId.List or ArrowTypeId.LargeList or ArrowTypeId.FixedSizeList or ArrowTypeId.ListView or ArrowTypeId.LargeListView =>
                throw Refused(name, "a nested list column"),
            ArrowTypeId.Struct => throw Refused(name, "a nested struct column"),
            ArrowTypeId.Map => throw Refused(name, "a nested map column"),
            ArrowTypeId.Union => throw Refused(name, "a union column"),
            _ => throw Refused(name, $"of the Arrow type {type.Name}"),
        };

        private static Func<int, object?> Accessor(string name, IArrowArray array) => array switch
        {
            NullArray => _ => null,
            BooleanArray a => i => a.GetValue(i),
            DoubleArray a => i => a.GetValue(i) is { } v ? Float(v) : null,
            FloatArray a => i => a.GetValue(i) is { } v ? Float(v) : null,
            HalfFloatArray a => i => a.GetValue(i) is { } v ? Float((double)v) : null,
            Int64Array a => i => a.GetValue(i) is { } v ? Integer(v) : null,
            UInt64Array a => i => a.GetValue(i) is { } v ? Integer(v) : null,
            Int32Array a => i => a.GetValue(i) is { } v ? (double)v : null,
            UInt32Array a => i => a.GetValue(i) is { } v ? (double)v : null,
            Int16Array a => i => a.GetValue(i) is { } v ? (double)v : null,
            UInt16Array a => i => a.GetValue(i) is { } v ? (double)v : null,
            Int8Array a => i => a.GetValue(i) is { } v ? (double)v : null,
            UInt8Array a => i => a.GetValue(i) is { } v ? (double)v : null,
            // A decimal's exact text: a numeric column parses it, a categorical one keeps every digit.
            Decimal32Array a => i => a.IsNull(i) ? null : a.GetString(i),
            Decimal64Array a => i => a.IsNull(i) ? null : a.GetString(i),
            Decimal128Array a => i => a.IsNull(i) ? null : a.GetString(i),
            Decimal256Array a => i => a.IsNull(i) ? null : a.GetString(i),
            StringArray a => i => a.GetString(i),
            LargeStringArray a => i => a.GetString(i),
            StringViewArray a => i => a.GetString(i),
            Date32Array a => i => a.GetDateTimeOffset(i),
            Date64Array a => i => a.GetDateTimeOffset(i),
            TimestampArray a => i => a.GetTimestamp(i)?.ToUniversalTime(),
            Time32Array a => i => a.GetTime(i) is { } v ? TimeOfDay(v) : null,
            Time64Array a => i => a.GetTime(i) is { } v ? TimeOfDay(v) : null,
            DictionaryArray d => Dictionary(name, d),
            _ => throw Refused(name, $"of the Arrow type {array.Data.DataType.Name}"),
        };

        private static Func<int, object?> Dictionary(string name, DictionaryArray array)
        {
            var values = Accessor(name, array.Dictionary);
            Func<int, long?> index = array.Indices switch
            {
                Int8Array a => i => a.GetValue(i),
                Int16Array a => i => a.GetValue(i),
                Int32Array a => i => a.GetValue(i),
                Int64Array a => i => a.GetValue(i),
                UInt8Array a => i => a.GetValue(i),
                UInt16Array a => i => a.GetValue(i),
                UInt32Array a => i => a.GetValue(i),
                _ => throw Refused(name, "a dictionary column with an unsupported index type"),
            };
            var size = array.Dictionary.Length;

            // Each entry is decoded once per batch, not once per row: a string dictionary would otherwise make a new
            // string for every row of a column with a handful of distinct values.
            var decoded = new object?[size];
            for (var k = 0; k < size; k++)
            {
                decoded[k] = values(k);
            }

            return i => index(i) switch
            {
                null => null,
                { } at when at >= 0 && at < size => decoded[(int)at],
                { } at => throw ModuleException.Invalid(
                    "content",
                    $"The Arrow IPC data is corrupt: row {i + 1} of column '{name}' points at dictionary entry {at} of {size}."),
            };
        }

        public override async ValueTask DisposeAsync()
        {
            _reader?.Dispose();
            await base.DisposeAsync();
        }
    }
}
