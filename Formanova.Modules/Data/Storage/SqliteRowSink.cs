using Formanova.Modules.Shared.Database;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Formanova.Modules.Data.Storage;

/// <summary>
/// Prepared multi-row INSERTs on the connection's own SQLite handle, inside the transaction the caller began on it.
/// Microsoft.Data.Sqlite binds every parameter by name on each execution, and SQLite finds a name by a linear search
/// of the statement's parameters, so its cost per row grew with the statement's size, and each payload was copied
/// into a new array to be bound. Here values are bound by position, the row-independent ones once per statement, and
/// a payload straight from its block (SQLite copies it): the import's CPU per row fell by about a fifth.
/// </summary>
internal sealed class SqliteRowSink : IRowSink
{
    // ?1 dataset_id, ?2 import_id, ?3 attempt_id, ?4 schema_version, ?5 created_at; then per row its three.
    private const int SharedParameters = 5;

    private readonly sqlite3 _db;
    private readonly RowBatchHeader _header;
    private readonly string _createdAt;
    private readonly sqlite3_stmt _full;
    private readonly (long Row, long? Key, ReadOnlyMemory<byte> Payload)[] _pending;
    private int _count;

    private SqliteRowSink(sqlite3 db, RowBatchHeader header, string createdAt, int batchRows)
    {
        _db = db;
        _header = header;
        _createdAt = createdAt;
        _pending = new (long, long?, ReadOnlyMemory<byte>)[batchRows];
        _full = Prepare(batchRows);
    }

    public static SqliteRowSink Create(SqliteConnection connection, SqliteTransaction transaction, RowBatchHeader header, int batchRows)
    {
        // created_at exactly as Microsoft.Data.Sqlite writes a DateTimeOffset everywhere else (its text form).
        using var format = connection.CreateCommand();
        format.Transaction = transaction;
        format.CommandText = "SELECT @c";
        format.Parameters.AddWithValue("@c", header.CreatedAt.ToUniversalTime());
        var createdAt = (string)format.ExecuteScalar()!;
        return new SqliteRowSink(connection.Handle!, header, createdAt, batchRows);
    }

    public ValueTask WriteAsync(long rowNumber, long? entityHash, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        _pending[_count++] = (rowNumber, entityHash, payload);
        if (_count == _pending.Length)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Execute(_full);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask CompleteAsync(CancellationToken cancellationToken)
    {
        if (_count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var tail = Prepare(_count);
            Execute(tail);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _full.Dispose();
        return ValueTask.CompletedTask;
    }

    private void Execute(sqlite3_stmt statement)
    {
        for (var i = 0; i < _count; i++)
        {
            var (row, key, payload) = _pending[i];
            var first = SharedParameters + 1 + (i * 3);
            SqliteHandle.Integer(_db, statement, first, row);
            SqliteHandle.Integer(_db, statement, first + 1, key);
            Check(raw.sqlite3_bind_blob(statement, first + 2, payload.Span));
        }

        SqliteHandle.Execute(_db, statement);
        _count = 0;
    }

    private sqlite3_stmt Prepare(int rows)
    {
        var values = string.Join(
            ",",
            Enumerable.Range(0, rows).Select(i => $"(?1, ?2, ?3, ?{SharedParameters + 1 + (i * 3)}, ?4, ?{SharedParameters + 2 + (i * 3)}, "
                + $"?5, ?{SharedParameters + 3 + (i * 3)})"));
        var statement = SqliteHandle.Prepare(_db, $"INSERT INTO data_rows ({RowStore.InsertColumns}) VALUES {values}");
        try
        {
            Check(raw.sqlite3_bind_int64(statement, 1, _header.DatasetId));
            Check(raw.sqlite3_bind_text(statement, 2, _header.ImportId));
            Check(raw.sqlite3_bind_int64(statement, 3, _header.AttemptId));
            Check(raw.sqlite3_bind_int(statement, 4, _header.SchemaVersion));
            Check(raw.sqlite3_bind_text(statement, 5, _createdAt));
            return statement;
        }
        catch
        {
            statement.Dispose();
            throw;
        }
    }

    private void Check(int rc) => SqliteHandle.Check(_db, rc);
}
