using System.Diagnostics;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

/// <summary>
/// The fair SQLite floor: the rows, typed in memory before the clock starts (text already UTF-8), written into a plain
/// typed table by prepared multi-row INSERTs in one transaction on SQLite's own handle, every value bound by position
/// (sqlite3_bind_*, sqlite3_step, sqlite3_reset), as the product's SqliteRowSink binds; the pragmas the product sets on
/// every connection (WAL, synchronous=NORMAL). Binding by name through Microsoft.Data.Sqlite (RawBaselines) pays for a
/// linear search per parameter, which the product no longer does, so that floor understates SQLite.
/// </summary>
internal static class SqliteFloor
{
    /// <summary>
    /// Rows per prepared INSERT. 12 columns, 200,000 rows, process CPU per run (wall times were noise on a 2-core box at
    /// load 10-19), medians of four sweeps of 7-9 runs: 1 row 338 ms, 8 rows 277, 32 279, 64 272, 128 278. One row per
    /// statement pays a step per row; from 8 on the cost is flat, and 64 was the lowest by a hair. 64 x 12 = 768
    /// variables, far below SQLite's default limit of 32,766 (the floor still caps at the handle's limit).
    /// </summary>
    public const int DefaultRowsPerStatement = 64;

    public static Task<TimeSpan> MedianAsync(TypedRows rows, int runs, string work, int rowsPerStatement = DefaultRowsPerStatement)
    {
        var values = Utf8Values(rows);
        return Measure.MedianAsync(
            runs,
            () => RunAsync(Path.Combine(work, $"floor-{Guid.NewGuid():N}.db"), rows, values, rowsPerStatement));
    }

    /// <summary>A fresh file each run, so every run starts from an empty table, as an import into a new dataset does.</summary>
    private static async Task<TimeSpan> RunAsync(string path, TypedRows rows, object?[][] values, int rowsPerStatement)
    {
        var columns = rows.Columns.Count;
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString();
        await using var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync();
        var db = connection.Handle!;
        var limit = raw.sqlite3_limit(db, raw.SQLITE_LIMIT_VARIABLE_NUMBER, -1) / columns;
        var perStatement = Math.Max(1, Math.Min(rowsPerStatement, limit));
        var definition = string.Join(", ", rows.Columns.Select((c, i) => $"c{i} {RawBaselines.SqliteType(c.Type)}"));
        Exec(db, $"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE raw_rows ({definition});");

        var watch = Stopwatch.StartNew();
        Exec(db, "BEGIN");
        using (var full = Prepare(db, columns, perStatement))
        {
            var row = 0;
            for (; row + perStatement <= rows.Count; row += perStatement)
            {
                Execute(db, full, values, row, perStatement);
            }

            if (row < rows.Count)
            {
                using var tail = Prepare(db, columns, rows.Count - row);
                Execute(db, tail, values, row, rows.Count - row);
            }
        }

        Exec(db, "COMMIT");
        watch.Stop();
        await connection.CloseAsync();
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }

        return watch.Elapsed;
    }

    private static void Execute(sqlite3 db, sqlite3_stmt statement, object?[][] values, int first, int count)
    {
        var columns = values.Length;
        for (var r = 0; r < count; r++)
        {
            for (var c = 0; c < columns; c++)
            {
                var index = (r * columns) + c + 1;
                Check(db, values[c][first + r] switch
                {
                    null => raw.sqlite3_bind_null(statement, index),
                    double d => raw.sqlite3_bind_double(statement, index, d),
                    bool b => raw.sqlite3_bind_int(statement, index, b ? 1 : 0),
                    DateTime t => raw.sqlite3_bind_int64(statement, index, t.Ticks),
                    byte[] text => raw.sqlite3_bind_text(statement, index, text.AsSpan()),
                    _ => throw new InvalidOperationException("Unexpected value type."),
                });
            }
        }

        var rc = raw.sqlite3_step(statement);
        raw.sqlite3_reset(statement);
        if (rc != raw.SQLITE_DONE)
        {
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }

    private static sqlite3_stmt Prepare(sqlite3 db, int columns, int rows)
    {
        var tuples = Enumerable.Range(0, rows)
            .Select(r => "(" + string.Join(",", Enumerable.Range(1, columns).Select(c => $"?{(r * columns) + c}")) + ")");
        Check(db, raw.sqlite3_prepare_v2(db, $"INSERT INTO raw_rows VALUES {string.Join(",", tuples)}", out var statement));
        return statement;
    }

    private static void Exec(sqlite3 db, string sql) => Check(db, raw.sqlite3_exec(db, sql));

    private static void Check(sqlite3 db, int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }

    /// <summary>The rows' values with every string as its UTF-8 bytes (one array per distinct string), before the clock.</summary>
    private static object?[][] Utf8Values(TypedRows rows)
    {
        var encoded = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var values = new object?[rows.Columns.Count][];
        for (var c = 0; c < values.Length; c++)
        {
            values[c] = new object?[rows.Count];
            for (var r = 0; r < rows.Count; r++)
            {
                var value = rows.Value(c, r);
                if (value is string s)
                {
                    if (!encoded.TryGetValue(s, out var bytes))
                    {
                        encoded[s] = bytes = Encoding.UTF8.GetBytes(s);
                    }

                    value = bytes;
                }

                values[c][r] = value;
            }
        }

        return values;
    }
}
