using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Formanova.Modules.Data;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

/// <summary>
/// The floors an import is measured against: the same rows, already typed in memory before the clock starts, written
/// into a plain table with one typed column per dataset column. On SQLite, prepared multi-row INSERTs in one
/// transaction, with the pragmas the product sets on every connection (WAL, synchronous=NORMAL): bound by position
/// on SQLite's handle (SqliteFloor, the fair floor) and, for comparison with earlier figures, by name through
/// Microsoft.Data.Sqlite (here); on PostgreSQL, one binary COPY.
/// </summary>
internal static class RawBaselines
{
    /// <summary>
    /// Rows per prepared INSERT of the name-binding floor. Microsoft.Data.Sqlite binds every parameter by name, and
    /// SQLite finds a name by a linear search of the statement's parameters, so binding costs grow with the square of
    /// the statement's size: for 12 columns, 4 and 8 rows ran at 125k rows/s, 32 at 40k, 128 at 11k and 512 at 2k (2-core box, loaded).
    /// </summary>
    public const int SqliteRowsPerStatement = 8;

    /// <summary>
    /// --import-baselines: the raw floors for a CSV file and its dataset's columns (the JSON array a dataset is
    /// created with), as bench/scripts/import.sh runs them next to the shipped host's import of the same file.
    /// Prints "sqlite ROWS_PER_SECOND ROWS_PER_STATEMENT" (the floor binding by position), "sqlite-by-name
    /// ROWS_PER_SECOND" and, with --postgres, "postgres ROWS_PER_SECOND" (medians of --runs).
    /// </summary>
    public static async Task RunAsync(BenchOptions options, string? postgres, string work)
    {
        var runs = options.Runs;
        var rows = TypedRows.Load(options.File!, ParseColumns(File.ReadAllText(options.Columns!)));
        var sqlite = await SqliteFloor.MedianAsync(rows, runs, work, options.RowsPerStatement);
        Console.WriteLine($"sqlite {rows.Count / sqlite.TotalSeconds:F0} {options.RowsPerStatement}");
        var byName = await SqliteMedianAsync(rows, runs, work);
        Console.WriteLine($"sqlite-by-name {rows.Count / byName.TotalSeconds:F0}");
        if (postgres is not null)
        {
            await using var database = await BenchDatabase.CreatePostgresAsync(postgres);
            var copy = await Measure.MedianAsync(runs, () => CopyAsync(database.ConnectionString, rows));
            Console.WriteLine($"postgres {rows.Count / copy.TotalSeconds:F0}");
        }
    }

    public static IReadOnlyList<ColumnDefinition> ParseColumns(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var array = root.ValueKind == JsonValueKind.Array ? root : root.GetProperty("columns");
        var columns = new List<ColumnDefinition>();
        foreach (var column in array.EnumerateArray())
        {
            var type = Enum.Parse<ColumnType>(column.GetProperty("type").GetString()!, ignoreCase: true);
            columns.Add(new ColumnDefinition(column.GetProperty("name").GetString()!, type));
        }

        return columns;
    }

    public static Task<TimeSpan> SqliteMedianAsync(TypedRows rows, int runs, string work) =>
        Measure.MedianAsync(runs, () => SqliteAsync(Path.Combine(work, $"raw-{Guid.NewGuid():N}.db"), rows));

    /// <summary>A fresh file each run, so every run starts from an empty table, as an import into a new dataset does.</summary>
    public static async Task<TimeSpan> SqliteAsync(string path, TypedRows rows)
    {
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString();
        await using var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync();
        await using (var setup = connection.CreateCommand())
        {
            var columns = string.Join(", ", rows.Columns.Select((c, i) => $"c{i} {SqliteType(c.Type)}"));
            setup.CommandText = $"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE raw_rows ({columns});";
            await setup.ExecuteNonQueryAsync();
        }

        var watch = Stopwatch.StartNew();
        await using (var transaction = (SqliteTransaction)await connection.BeginTransactionAsync())
        {
            var full = SqliteInsert(connection, transaction, rows.Columns.Count, SqliteRowsPerStatement);
            var row = 0;
            for (; row + SqliteRowsPerStatement <= rows.Count; row += SqliteRowsPerStatement)
            {
                Bind(full, rows, row, SqliteRowsPerStatement);
                await full.ExecuteNonQueryAsync();
            }

            if (row < rows.Count)
            {
                var tail = SqliteInsert(connection, transaction, rows.Columns.Count, rows.Count - row);
                Bind(tail, rows, row, rows.Count - row);
                await tail.ExecuteNonQueryAsync();
            }

            await transaction.CommitAsync();
        }

        watch.Stop();
        await connection.CloseAsync();
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }

        return watch.Elapsed;
    }

    /// <summary>One binary COPY into a fresh typed table.</summary>
    public static async Task<TimeSpan> CopyAsync(string connectionString, TypedRows rows)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using (var create = connection.CreateCommand())
        {
            var columns = string.Join(", ", rows.Columns.Select((c, i) => $"c{i} {PostgresType(c.Type)}"));
            create.CommandText = $"DROP TABLE IF EXISTS raw_rows; CREATE TABLE raw_rows ({columns})";
            await create.ExecuteNonQueryAsync();
        }

        var watch = Stopwatch.StartNew();
        await using (var importer = await connection.BeginBinaryImportAsync("COPY raw_rows FROM STDIN (FORMAT BINARY)"))
        {
            for (var row = 0; row < rows.Count; row++)
            {
                await importer.StartRowAsync();
                for (var column = 0; column < rows.Columns.Count; column++)
                {
                    switch (rows.Value(column, row))
                    {
                        case null:
                            await importer.WriteNullAsync();
                            break;
                        case double d:
                            await importer.WriteAsync(d, NpgsqlDbType.Double);
                            break;
                        case bool b:
                            await importer.WriteAsync(b, NpgsqlDbType.Boolean);
                            break;
                        case DateTime t:
                            await importer.WriteAsync(t, NpgsqlDbType.TimestampTz);
                            break;
                        case string s:
                            await importer.WriteAsync(s, NpgsqlDbType.Text);
                            break;
                        default:
                            throw new InvalidOperationException("Unexpected value type.");
                    }
                }
            }

            await importer.CompleteAsync();
        }

        watch.Stop();
        return watch.Elapsed;
    }

    private static SqliteCommand SqliteInsert(SqliteConnection connection, SqliteTransaction transaction, int columns, int rows)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        var tuples = Enumerable.Range(0, rows)
            .Select(r => "(" + string.Join(",", Enumerable.Range(1, columns).Select(c => $"?{(r * columns) + c}")) + ")");
        command.CommandText = $"INSERT INTO raw_rows VALUES {string.Join(",", tuples)}";
        for (var i = 0; i < columns * rows; i++)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = $"?{i + 1}" });
        }

        command.Prepare();
        return command;
    }

    private static void Bind(SqliteCommand command, TypedRows rows, int first, int count)
    {
        var parameters = command.Parameters;
        var columns = rows.Columns.Count;
        for (var r = 0; r < count; r++)
        {
            for (var c = 0; c < columns; c++)
            {
                parameters[(r * columns) + c].Value = rows.Value(c, first + r) switch
                {
                    null => DBNull.Value,
                    bool b => b ? 1L : 0L,
                    DateTime t => t.Ticks,
                    var value => value,
                };
            }
        }
    }

    public static string SqliteType(ColumnType type) => type switch
    {
        ColumnType.Numeric => "REAL",
        ColumnType.Boolean or ColumnType.Datetime => "INTEGER",
        _ => "TEXT",
    };

    private static string PostgresType(ColumnType type) => type switch
    {
        ColumnType.Numeric => "DOUBLE PRECISION",
        ColumnType.Boolean => "BOOLEAN",
        ColumnType.Datetime => "TIMESTAMPTZ",
        _ => "TEXT",
    };
}

/// <summary>
/// A CSV file's rows held as typed values (boxed once at load, so the timed loops only bind), parsed by the dataset's
/// column types. The bench fixtures are plain: no quoting, an empty field is null.
/// </summary>
internal sealed class TypedRows
{
    private readonly object?[][] _columns;

    private TypedRows(IReadOnlyList<ColumnDefinition> columns, object?[][] values, int count)
    {
        Columns = columns;
        _columns = values;
        Count = count;
    }

    public IReadOnlyList<ColumnDefinition> Columns { get; }

    public int Count { get; }

    public object? Value(int column, int row) => _columns[column][row];

    public static TypedRows Load(string csv, IReadOnlyList<ColumnDefinition> columns)
    {
        var values = columns.Select(_ => new List<object?>()).ToArray();
        var strings = new Dictionary<string, string>(StringComparer.Ordinal);
        object boxedTrue = true, boxedFalse = false;
        var row = 0;
        foreach (var line in File.ReadLines(csv).Skip(1))
        {
            var fields = line.Split(',');
            if (fields.Length != columns.Count)
            {
                throw new InvalidOperationException($"Line {row + 2} has {fields.Length} fields, not {columns.Count}.");
            }

            for (var c = 0; c < columns.Count; c++)
            {
                var text = fields[c];
                values[c].Add(text.Length == 0 ? null : Parse(columns[c].Type, text));
            }

            row++;
        }

        return new TypedRows(columns, [.. values.Select(v => v.ToArray())], row);

        object Parse(ColumnType type, string text) => type switch
        {
            ColumnType.Numeric => double.Parse(text, CultureInfo.InvariantCulture),
            ColumnType.Boolean => text is "true" or "1" ? boxedTrue : boxedFalse,
            ColumnType.Datetime => DateTime.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal),
            _ => Intern(text),
        };

        string Intern(string text)
        {
            if (!strings.TryGetValue(text, out var known))
            {
                strings[text] = known = text;
            }

            return known;
        }
    }
}
