using System.Globalization;
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
                PredictionLogRow.Write(new HandleBinder(db, statement), p);
                SqliteHandle.Execute(db, statement);
                written += raw.sqlite3_changes(db);
            }

            return written;
        }
    }

    public static string Timestamp(DateTimeOffset value) => value.ToUniversalTime().ToString(TimestampFormat, CultureInfo.InvariantCulture);

    // SQLite numbers the insert's parameters from 1 in the order of PredictionLogRow.Columns.
    private readonly struct HandleBinder(sqlite3 db, sqlite3_stmt statement) : IPredictionLogBinder
    {
        public void Text(int column, string? value) => SqliteHandle.Text(db, statement, column + 1, value);

        public void Real(int column, double? value) => SqliteHandle.Real(db, statement, column + 1, value);

        public void Flag(int column, bool value) => SqliteHandle.Integer(db, statement, column + 1, value ? 1 : 0);

        public void Time(int column, DateTimeOffset value) => SqliteHandle.Text(db, statement, column + 1, Timestamp(value));
    }
}
