using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Formanova.Modules.Shared.Database;

/// <summary>
/// Statements prepared and bound by position on a connection's own SQLite handle, for the hot inserts (the import's
/// rows, the prediction log) where Microsoft.Data.Sqlite's binding by name costs a lookup and allocations per value.
/// Failures throw the <see cref="SqliteException"/> Microsoft.Data.Sqlite would.
/// </summary>
internal static class SqliteHandle
{
    public static sqlite3_stmt Prepare(sqlite3 db, string sql)
    {
        Check(db, raw.sqlite3_prepare_v2(db, sql, out var statement));
        return statement;
    }

    public static void Text(sqlite3 db, sqlite3_stmt statement, int index, string? value) =>
        Check(db, value is null ? raw.sqlite3_bind_null(statement, index) : raw.sqlite3_bind_text(statement, index, value));

    public static void Real(sqlite3 db, sqlite3_stmt statement, int index, double? value) =>
        Check(db, value is { } number ? raw.sqlite3_bind_double(statement, index, number) : raw.sqlite3_bind_null(statement, index));

    public static void Integer(sqlite3 db, sqlite3_stmt statement, int index, long? value) =>
        Check(db, value is { } number ? raw.sqlite3_bind_int64(statement, index, number) : raw.sqlite3_bind_null(statement, index));

    /// <summary>Runs a statement that returns no rows and resets it for its next bindings.</summary>
    public static void Execute(sqlite3 db, sqlite3_stmt statement)
    {
        var rc = raw.sqlite3_step(statement);
        raw.sqlite3_reset(statement);
        if (rc != raw.SQLITE_DONE)
        {
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }

    public static void Check(sqlite3 db, int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }
}
