using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Formanova.Modules.Data.Outcomes;

/// <summary>
/// The prediction log's insert on SQLite, run on the connection's own handle inside the caller's transaction: one
/// statement prepared per batch and its values bound by position. Microsoft.Data.Sqlite binds by name and allocates a
/// binder per parameter per execution, eighteen per logged prediction, on a path every predict feeds.
/// </summary>
internal static class SqlitePredictionInsert
{
    /// <summary>Microsoft.Data.Sqlite's text form of a <see cref="DateTimeOffset"/>, which every other query compares with.</summary>
    public const string TimestampFormat = @"yyyy\-MM\-dd HH\:mm\:ss.FFFFFFFzzz";

    public static int Write(SqliteConnection connection, string sql, IReadOnlyList<LoggedPrediction> predictions)
    {
        var db = connection.Handle!;
        Check(db, raw.sqlite3_prepare_v2(db, sql, out var statement));
        using (statement)
        {
            var written = 0;
            foreach (var p in predictions)
            {
                Bind(db, statement, p);
                var rc = raw.sqlite3_step(statement);
                raw.sqlite3_reset(statement);
                if (rc != raw.SQLITE_DONE)
                {
                    SqliteException.ThrowExceptionForRC(rc, db);
                }

                written += raw.sqlite3_changes(db);
            }

            return written;
        }
    }

    public static string Timestamp(DateTimeOffset value) => value.ToUniversalTime().ToString(TimestampFormat, CultureInfo.InvariantCulture);

    // Positions as in PredictionLog's insert: its named parameters, in order, are ?1 to ?18.
    private static void Bind(sqlite3 db, sqlite3_stmt statement, LoggedPrediction p)
    {
        var probabilities = p.Task == OutcomeTask.Regression || p.Probabilities is null ? null : JsonSerializer.Serialize(p.Probabilities);
        Text(db, statement, 1, p.PredictionId);
        Text(db, statement, 2, p.Model);
        Text(db, statement, 3, p.Version);
        Text(db, statement, 4, PredictionLog.TaskText(p.Task));
        Text(db, statement, 5, p.Source);
        Text(db, statement, 6, Timestamp(p.PredictedAt));
        Text(db, statement, 7, p.EntityId);
        Text(db, statement, 8, p.Experiment);
        Text(db, statement, 9, p.Arm);
        Text(db, statement, 10, p.ErrorKind);
        Text(db, statement, 11, p.Label);
        Real(db, statement, 12, p.Value);
        Real(db, statement, 13, p.Score);
        Text(db, statement, 14, probabilities);
        Real(db, statement, 15, p.LatencyMs);
        Check(db, raw.sqlite3_bind_int(statement, 16, p.Cached ? 1 : 0));
        Text(db, statement, 17, p.FallbackFrom);
        Text(db, statement, 18, p.ServedPredictionId);
    }

    private static void Text(sqlite3 db, sqlite3_stmt statement, int index, string? value) =>
        Check(db, value is null ? raw.sqlite3_bind_null(statement, index) : raw.sqlite3_bind_text(statement, index, value));

    private static void Real(sqlite3 db, sqlite3_stmt statement, int index, double? value) =>
        Check(db, value is { } number ? raw.sqlite3_bind_double(statement, index, number) : raw.sqlite3_bind_null(statement, index));

    private static void Check(sqlite3 db, int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }
}
