using System.Text.Json;
using Formanova.Modules.Data.Import;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Rows;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Data.Schema;

/// <summary>
/// Proposes a schema from the first rows of a sample: the narrowest type every non-empty value parses as
/// (boolean, numeric, datetime), otherwise categorical when values repeat and text when they do not. Roles come
/// from names (id, label/target/class) and uniqueness; the user is expected to review the proposal.
/// </summary>
internal sealed class SchemaInference(IOptions<DataOptions> options, UploadSpool spool)
{
    private static readonly string[] LabelNames = ["label", "target", "class", "y", "outcome"];

    private sealed class Stats(string name)
    {
        public string Name { get; } = name;

        public long Missing { get; set; }

        public long Present { get; set; }

        public bool AllBoolean { get; set; } = true;

        public bool AllNumber { get; set; } = true;

        public bool AllDate { get; set; } = true;

        public HashSet<string> Distinct { get; } = new(StringComparer.Ordinal);

        /// <summary>A column of a typed file (Parquet, Arrow): its declared type decides, not its values' text.</summary>
        public bool Columnar { get; init; }

        /// <summary>The declared type's mapping; null for strings, which get categorical or text by their values.</summary>
        public ColumnType? Declared { get; init; }

        /// <summary>An integer beyond ±2^53 was seen: as a double it would lose digits, so it is proposed as text.</summary>
        public bool Wide { get; set; }

        public void Observe(string? text)
        {
            if (string.IsNullOrEmpty(text))
            {
                Missing++;
                return;
            }

            Present++;
            AllBoolean &= ValueText.TryParseBoolean(text, out _);
            AllNumber &= ValueText.TryParseNumber(text, out _);
            AllDate &= !ValueText.TryParseNumber(text, out _) && ValueText.TryParseDate(text, out _);
            if (Distinct.Count <= 10_000)
            {
                Distinct.Add(text);
            }
        }
    }

    public async Task<InferredSchema> InferAsync(Stream sample, ImportFormat format, char delimiter, CancellationToken cancellationToken)
    {
        var limits = options.Value.Import;
        var maxRows = options.Value.InferSampleRows;
        var limited = new LimitedReadStream(sample, limits.MaxUploadBytes);
        var columns = new List<Stats>();
        long rows = 0;
        if (format == ImportFormat.Csv)
        {
            using var reader = RowSources.OpenText(limited);
            var parser = new Import.CsvParser(reader, delimiter, limits.MaxFieldChars, options.Value.MaxColumns + 1);
            if (!await RowSources.ReadRecordAsync(parser, cancellationToken))
            {
                throw ModuleException.Invalid("content", "The CSV sample is empty: a header row naming the columns is expected.");
            }

            var duplicate = parser.Fields.GroupBy(f => f, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null)
            {
                throw ModuleException.Invalid("header", $"The column name '{duplicate.Key}' appears twice in the header.");
            }

            columns.AddRange(parser.Fields.Select(f => new Stats(f)));
            while (rows < maxRows && await RowSources.ReadRecordAsync(parser, cancellationToken))
            {
                if (parser.Fields.Count == 1 && parser.Fields[0].Length == 0 && columns.Count > 1)
                {
                    continue;
                }

                rows++;
                for (var i = 0; i < columns.Count; i++)
                {
                    columns[i].Observe(i < parser.Fields.Count ? parser.Fields[i] : null);
                }
            }
        }
        else if (format is ImportFormat.Parquet or ImportFormat.Arrow)
        {
            rows = await ObserveColumnarAsync(limited, format, columns, maxRows, cancellationToken);
        }
        else
        {
            var byName = new Dictionary<string, Stats>(StringComparer.Ordinal);
            await foreach (var item in RowSources.ReadJsonItemsAsync(limited, format == ImportFormat.Ndjson, cancellationToken))
            {
                rows++;
                RowSources.Utf8Guard(() => Observe(item, byName, columns, rows), rows);
                foreach (var absent in columns.Where(c => c.Missing + c.Present < rows))
                {
                    absent.Missing++;
                }

                if (rows >= maxRows)
                {
                    break;
                }
            }
        }

        if (rows == 0)
        {
            throw ModuleException.Invalid("content", "The sample has no data rows to infer types from.");
        }

        var proposed = columns.Select(c => Propose(c, rows)).ToList();
        // At most one label: keep the first name match.
        var firstLabel = proposed.FindIndex(c => c.Role == ColumnRole.Label);
        for (var i = 0; i < proposed.Count; i++)
        {
            if (proposed[i].Role == ColumnRole.Label && i != firstLabel)
            {
                proposed[i] = proposed[i] with { Role = ColumnRole.Feature };
            }
        }

        return new InferredSchema(proposed, rows);
    }

    private async Task<long> ObserveColumnarAsync(
        Stream upload,
        ImportFormat format,
        List<Stats> columns,
        int maxRows,
        CancellationToken cancellationToken)
    {
        var limits = options.Value.Import;
        await using var file = await ColumnarFile.OpenAsync(upload, format, spool, limits, cancellationToken);
        if (file.Fields.Count > options.Value.MaxColumns)
        {
            throw ModuleException.Invalid("content", $"The {file.Kind} file has more than {options.Value.MaxColumns} columns.");
        }

        var duplicate = file.Fields.GroupBy(f => f.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw ModuleException.Invalid("header", $"The column name '{duplicate.Key}' appears twice in the {file.Kind} file.");
        }

        columns.AddRange(file.Fields.Select(f => new Stats(f.Name) { Columnar = true, Declared = f.Type }));
        long rows = 0;
        await foreach (var batch in file.ReadBatchesAsync(cancellationToken))
        {
            using (batch)
            {
                for (var r = 0; r < batch.Rows && rows < maxRows; r++, rows++)
                {
                    for (var c = 0; c < columns.Count; c++)
                    {
                        var value = batch.Columns[c](r);
                        columns[c].Wide |= value is long or ulong;
                        columns[c].Observe(ValueText.Format(value));
                    }
                }
            }

            if (rows >= maxRows)
            {
                break;
            }
        }

        return rows;
    }

    private bool Observe(JsonElement item, Dictionary<string, Stats> byName, List<Stats> columns, long rows)
    {
        foreach (var property in item.EnumerateObject())
        {
            if (!byName.TryGetValue(property.Name, out var stats))
            {
                if (byName.Count >= options.Value.MaxColumns)
                {
                    throw ModuleException.Invalid("content", $"The sample has more than {options.Value.MaxColumns} distinct keys.");
                }

                byName[property.Name] = stats = new Stats(property.Name) { Missing = rows - 1 };
                columns.Add(stats);
            }

            stats.Observe(property.Value.ValueKind switch
            {
                JsonValueKind.Null => null,
                JsonValueKind.String => property.Value.GetString(),
                _ => property.Value.GetRawText(),
            });
        }

        return true;
    }

    private static ColumnDefinition Propose(Stats stats, long rows)
    {
        ColumnType type;
        if (stats.Present == 0)
        {
            type = ColumnType.Text;
        }
        else if (stats is { Declared: { } declared, Wide: false })
        {
            type = declared;
        }
        else if (stats.Columnar)
        {
            type = stats.Distinct.Count <= Math.Max(20, stats.Present / 20) ? ColumnType.Categorical : ColumnType.Text;
        }
        else if (stats.AllBoolean)
        {
            type = ColumnType.Boolean;
        }
        else if (stats.AllNumber)
        {
            type = ColumnType.Numeric;
        }
        else if (stats.AllDate)
        {
            type = ColumnType.Datetime;
        }
        else
        {
            type = stats.Distinct.Count <= Math.Max(20, stats.Present / 20) ? ColumnType.Categorical : ColumnType.Text;
        }

        var lower = stats.Name.Trim().ToLowerInvariant();
        var unique = stats.Missing == 0 && stats.Distinct.Count == stats.Present && rows > 1;
        var role = ColumnRole.Feature;
        if ((lower == "id" || lower.EndsWith("_id", StringComparison.Ordinal) || lower.EndsWith(" id", StringComparison.Ordinal)) && unique)
        {
            role = ColumnRole.Id;
        }
        else if (LabelNames.Contains(lower) && type != ColumnType.Text)
        {
            role = ColumnRole.Label;
        }

        return new ColumnDefinition(stats.Name, type, Nullable: stats.Missing > 0, role);
    }
}
