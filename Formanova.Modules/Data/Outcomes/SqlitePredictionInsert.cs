using System.Globalization;
using System.Text.Json;
using Formanova.Modules.Shared.Database;
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
        using (var statement = SqliteHandle.Prepare(db, sql))
        {
            var written = 0;
            foreach (var p in predictions)
            {
                Bind(db, statement, p);
                SqliteHandle.Execute(db, statement);
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
        SqliteHandle.Text(db, statement, 1, p.PredictionId);
        SqliteHandle.Text(db, statement, 2, p.Model);
        SqliteHandle.Text(db, statement, 3, p.Version);
        SqliteHandle.Text(db, statement, 4, PredictionLog.TaskText(p.Task));
        SqliteHandle.Text(db, statement, 5, p.Source);
        SqliteHandle.Text(db, statement, 6, Timestamp(p.PredictedAt));
        SqliteHandle.Text(db, statement, 7, p.EntityId);
        SqliteHandle.Text(db, statement, 8, p.Experiment);
        SqliteHandle.Text(db, statement, 9, p.Arm);
        SqliteHandle.Text(db, statement, 10, p.ErrorKind);
        SqliteHandle.Text(db, statement, 11, p.Label);
        SqliteHandle.Real(db, statement, 12, p.Value);
        SqliteHandle.Real(db, statement, 13, p.Score);
        SqliteHandle.Text(db, statement, 14, probabilities);
        SqliteHandle.Real(db, statement, 15, p.LatencyMs);
        SqliteHandle.Integer(db, statement, 16, p.Cached ? 1 : 0);
        SqliteHandle.Text(db, statement, 17, p.FallbackFrom);
        SqliteHandle.Text(db, statement, 18, p.ServedPredictionId);
    }
}
