using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Formanova.Modules.Data.Schema;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Json;

namespace Formanova.Modules.Data.Import;

/// <summary>One parsed input row: values in schema order, or the reasons it was rejected.</summary>
internal sealed class ParsedRow(long row, int columns)
{
    public long Row { get; } = row;

    public object?[] Values { get; } = new object?[columns];

    public List<RowError>? Errors { get; private set; }

    public void Reject(string? column, string reason, string message) => (Errors ??= []).Add(new RowError(Row, column, reason, message));
}

/// <summary>Turns a CSV, JSON-array or NDJSON upload into <see cref="ParsedRow"/>s one at a time.</summary>
internal static class RowSources
{
    private static readonly JsonSerializerOptions JsonOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    /// <summary>Strict UTF-8 (a BOM is skipped; any invalid byte sequence throws) so that bad bytes never become U+FFFD silently.</summary>
    public static StreamReader OpenText(Stream stream) =>
        new(
            stream,
            new UTF8Encoding(encoderShouldEmitUTF8Identifier: true, throwOnInvalidBytes: true),
            detectEncodingFromByteOrderMarks: false,
            bufferSize: 64 * 1024,
            leaveOpen: true);

    public static async ValueTask<bool> ReadRecordAsync(CsvParser parser, CancellationToken cancellationToken)
    {
        try
        {
            return await parser.ReadAsync(cancellationToken);
        }
        catch (DecoderFallbackException)
        {
            throw ModuleException.Invalid(
                "content",
                $"The content is not valid UTF-8 (an invalid byte sequence near line {parser.RecordLine}).");
        }
    }

    public static async IAsyncEnumerable<ParsedRow> ReadCsvAsync(
        Stream stream,
        CompiledSchema schema,
        char delimiter,
        int maxFieldChars,
        int maxColumns,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = OpenText(stream);
        var parser = new CsvParser(reader, delimiter, maxFieldChars, maxColumns + 1);
        if (!await ReadRecordAsync(parser, cancellationToken))
        {
            throw ModuleException.Invalid("content", "The CSV content is empty: a header row naming the columns is expected.");
        }

        var header = parser.Fields.ToArray();
        var map = MapHeader(header, schema);
        long row = 0;
        while (await ReadRecordAsync(parser, cancellationToken))
        {
            var fields = parser.Fields;
            if (fields.Count == 1 && fields[0].Length == 0 && header.Length > 1)
            {
                continue;
            }

            var parsed = new ParsedRow(++row, schema.Columns.Length);
            if (fields.Count != header.Length)
            {
                parsed.Reject(null, "columnCount", $"Line {parser.RecordLine} has {fields.Count} fields; the header has {header.Length}.");
                yield return parsed;
                continue;
            }

            for (var i = 0; i < map.Length; i++)
            {
                var column = schema.Columns[map[i]];
                if (column.FromText(fields[i], out var value) is { } failure)
                {
                    parsed.Reject(column.Name, failure.Reason, failure.Message);
                }
                else
                {
                    parsed.Values[column.Index] = value;
                }
            }

            yield return parsed;
        }

        if (row == 0)
        {
            throw ModuleException.Invalid("content", "The CSV content has a header row but no data rows.");
        }
    }

    /// <summary>
    /// Each source column's schema index. <paramref name="where"/> names the source in messages ("header", "Parquet
    /// file") and <paramref name="what"/> the whole of its names ("CSV header").
    /// </summary>
    public static int[] MapHeader(string[] header, CompiledSchema schema, string where = "header", string what = "CSV header")
    {
        var errors = new Dictionary<string, List<string>>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var map = new int[header.Length];
        for (var i = 0; i < header.Length; i++)
        {
            if (!seen.TryAdd(header[i], i))
            {
                SchemaRules.Add(
                    errors,
                    "header",
                    $"The column name '{header[i]}' appears twice in the {where} (columns {seen[header[i]] + 1} and {i + 1}).");
                continue;
            }

            map[i] = schema.IndexOf(header[i]);
            if (map[i] < 0)
            {
                SchemaRules.Add(
                    errors,
                    "header",
                    $"The {where} column '{header[i]}' (column {i + 1}) is not in the dataset schema (version {schema.Version}).");
            }
        }

        foreach (var column in schema.Columns.Where(c => !c.Definition.Nullable && !seen.ContainsKey(c.Name)))
        {
            SchemaRules.Add(errors, "header", $"The required column '{column.Name}' is missing from the {where}.");
        }

        SchemaRules.ThrowIfAny(errors, $"The {what} does not match the dataset schema.");
        return map;
    }

    /// <summary>The elements of a JSON array (or the values of an NDJSON stream), each buffered alone.</summary>
    public static async IAsyncEnumerable<JsonElement> ReadJsonItemsAsync(
        Stream stream,
        bool ndjson,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var items = JsonSerializer.DeserializeAsyncEnumerable<JsonElement>(stream, topLevelValues: ndjson, JsonOptions, cancellationToken);
        await using var enumerator = items.GetAsyncEnumerator(cancellationToken);
        long count = 0;
        while (true)
        {
            JsonElement item;
            try
            {
                if (!await enumerator.MoveNextAsync())
                {
                    break;
                }

                item = enumerator.Current;
            }
            catch (JsonException ex)
            {
                var shape = ndjson ? "NDJSON (one JSON object per line)" : "a JSON array of objects";
                var where = ex.LineNumber is { } line ? $" at line {line + 1}, byte {ex.BytePositionInLine}" : "";
                var reason = JsonProblem.Of(ex).Reason;
                throw ModuleException.Invalid("content", count == 0 && !ndjson
                    ? $"The body must be {shape}; it is not{where}: {reason}"
                    : $"Malformed JSON after item {count}{where}: {reason}");
            }
            catch (InvalidOperationException)
            {
                throw ModuleException.Invalid("content", $"The JSON content could not be read after item {count}: {JsonInput.InvalidText}");
            }

            count++;
            if (item.ValueKind != JsonValueKind.Object)
            {
                var kind = item.ValueKind.ToString().ToLowerInvariant();
                var expected = ndjson ? "NDJSON with one object per line" : "a JSON array of objects";
                throw ModuleException.Invalid("content", $"Item {count} is {kind}, not an object: the body must be {expected}.");
            }

            yield return item;
        }
    }

    public static async IAsyncEnumerable<ParsedRow> ReadJsonAsync(
        Stream stream,
        CompiledSchema schema,
        bool ndjson,
        int maxFieldChars,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        long row = 0;
        var present = new bool[schema.Columns.Length];
        await foreach (var item in ReadJsonItemsAsync(stream, ndjson, cancellationToken))
        {
            var number = ++row;
            yield return Utf8Guard(() => ParseObject(item, number, schema, present, maxFieldChars), number);
        }

        if (row == 0)
        {
            throw ModuleException.Invalid("content", "The JSON content contains no rows.");
        }
    }

    private static ParsedRow ParseObject(JsonElement item, long row, CompiledSchema schema, bool[] present, int maxFieldChars)
    {
        var parsed = new ParsedRow(row, schema.Columns.Length);
        Array.Clear(present);
        foreach (var property in item.EnumerateObject())
        {
            var index = schema.IndexOf(property.Name);
            if (index < 0)
            {
                parsed.Reject(
                    property.Name,
                    "unknownColumn",
                    $"'{property.Name}' is not a column of the dataset schema (version {schema.Version}).");
                continue;
            }

            if (property.Value.ValueKind == JsonValueKind.String && property.Value.GetString()!.Length > maxFieldChars)
            {
                throw new ModuleException(
                    ErrorKind.TooLarge,
                    $"Item {row}: the value of '{property.Name}' is longer than {maxFieldChars} characters (Data:Import:MaxFieldChars).");
            }

            present[index] = true;
            var column = schema.Columns[index];
            if (column.FromJson(property.Value, out var value) is { } failure)
            {
                parsed.Reject(column.Name, failure.Reason, failure.Message);
            }
            else
            {
                parsed.Values[index] = value;
            }
        }

        for (var i = 0; i < present.Length; i++)
        {
            if (!present[i] && schema.Columns[i].CheckConstraints(null) is { } missing)
            {
                parsed.Reject(schema.Columns[i].Name, missing.Reason, missing.Message);
            }
        }

        return parsed;
    }

    /// <summary>
    /// Utf8JsonReader checks structure, not the bytes inside strings; decoding a string with invalid UTF-8 throws
    /// InvalidOperationException, which is the client's fault and must read as such.
    /// </summary>
    public static T Utf8Guard<T>(Func<T> read, long item)
    {
        try
        {
            return read();
        }
        catch (InvalidOperationException)
        {
            throw ModuleException.Invalid("content", $"Item {item} cannot be read: {JsonInput.InvalidText}");
        }
    }
}

/// <summary>Counts the bytes read and fails once the configured upload limit is passed, whatever the transport reported.</summary>
internal sealed class LimitedReadStream(Stream inner, long limit) : Stream
{
    private long _read;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => _read; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Count(int read)
    {
        _read += read;
        if (_read > limit)
        {
            throw new ModuleException(ErrorKind.TooLarge, $"The upload is larger than {limit} bytes (Data:Import:MaxUploadBytes).");
        }

        return read;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
