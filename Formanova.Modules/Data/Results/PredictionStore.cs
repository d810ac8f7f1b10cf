using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Dapper;
using Formanova.Modules.Shared.Database;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace Formanova.Modules.Data.Results;

/// <summary>
/// Row-level batch predictions. A chunk is replaced as a whole in one transaction (delete, then bulk write), so a
/// retried chunk leaves exactly one copy of its rows. The bulk write is the one provider-specific path: binary COPY on
/// PostgreSQL, prepared multi-row INSERTs on SQLite.
/// </summary>
internal sealed class PredictionStore(IDatabase database)
{
    private const string DeleteChunk = "DELETE FROM data_predictions WHERE job_id = @JobId AND chunk = @Chunk";

    private const string CopyPredictions = "COPY data_predictions (job_id, chunk, row_id, label, value, score) FROM STDIN (FORMAT BINARY)";

    private const string SelectJob = "SELECT row_id, label, value, score FROM data_predictions WHERE job_id = @JobId ORDER BY chunk, row_id";

    private const int SqliteRowsPerInsert = 200;

    public async Task ReplaceChunkAsync(string jobId, int chunk, IReadOnlyList<StoredPrediction> predictions, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(DeleteChunk, new { JobId = jobId, Chunk = chunk }, transaction, commandTimeout: 0, cancellationToken: cancellationToken));
        if (database.Dialect.Provider == DatabaseProvider.Postgres)
        {
            await CopyAsync((NpgsqlConnection)connection, jobId, chunk, predictions, cancellationToken);
        }
        else
        {
            await InsertAsync((SqliteConnection)connection, (SqliteTransaction)transaction, jobId, chunk, predictions, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Every prediction of a job in row order (chunks are consecutive row ranges), unbuffered.</summary>
    public async IAsyncEnumerable<StoredPrediction> StreamAsync(string jobId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var reader = await connection.ExecuteReaderAsync(new CommandDefinition(SelectJob, new { JobId = jobId }, commandTimeout: 0, cancellationToken: cancellationToken), CommandBehavior.SequentialAccess);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new StoredPrediction(
                reader.GetInt64(0),
                await reader.IsDBNullAsync(1, cancellationToken) ? null : reader.GetString(1),
                await reader.IsDBNullAsync(2, cancellationToken) ? null : reader.GetDouble(2),
                await reader.IsDBNullAsync(3, cancellationToken) ? null : reader.GetDouble(3));
        }
    }

    private static async Task CopyAsync(NpgsqlConnection connection, string jobId, int chunk, IReadOnlyList<StoredPrediction> predictions, CancellationToken cancellationToken)
    {
        await using var importer = await connection.BeginBinaryImportAsync(CopyPredictions, cancellationToken);
        foreach (var p in predictions)
        {
            await importer.StartRowAsync(cancellationToken);
            await importer.WriteAsync(jobId, NpgsqlDbType.Text, cancellationToken);
            await importer.WriteAsync(chunk, NpgsqlDbType.Integer, cancellationToken);
            await importer.WriteAsync(p.RowId, NpgsqlDbType.Bigint, cancellationToken);
            await (p.Label is null ? importer.WriteNullAsync(cancellationToken) : importer.WriteAsync(p.Label, NpgsqlDbType.Text, cancellationToken));
            await (p.Value is { } value ? importer.WriteAsync(value, NpgsqlDbType.Double, cancellationToken) : importer.WriteNullAsync(cancellationToken));
            await (p.Score is { } score ? importer.WriteAsync(score, NpgsqlDbType.Double, cancellationToken) : importer.WriteNullAsync(cancellationToken));
        }

        await importer.CompleteAsync(cancellationToken);
    }

    private static async Task InsertAsync(SqliteConnection connection, SqliteTransaction transaction, string jobId, int chunk, IReadOnlyList<StoredPrediction> predictions, CancellationToken cancellationToken)
    {
        SqliteCommand? full = null;
        try
        {
            for (var offset = 0; offset < predictions.Count; offset += SqliteRowsPerInsert)
            {
                var count = Math.Min(SqliteRowsPerInsert, predictions.Count - offset);
                var command = count == SqliteRowsPerInsert ? full ??= Prepare(connection, transaction, jobId, chunk, count) : Prepare(connection, transaction, jobId, chunk, count);
                for (var i = 0; i < count; i++)
                {
                    var p = predictions[offset + i];
                    command.Parameters[2 + (i * 4)].Value = p.RowId;
                    command.Parameters[3 + (i * 4)].Value = (object?)p.Label ?? DBNull.Value;
                    command.Parameters[4 + (i * 4)].Value = (object?)p.Value ?? DBNull.Value;
                    command.Parameters[5 + (i * 4)].Value = (object?)p.Score ?? DBNull.Value;
                }

                await command.ExecuteNonQueryAsync(cancellationToken);
                if (command != full)
                {
                    await command.DisposeAsync();
                }
            }
        }
        finally
        {
            if (full is not null)
            {
                await full.DisposeAsync();
            }
        }
    }

    private static SqliteCommand Prepare(SqliteConnection connection, SqliteTransaction transaction, string jobId, int chunk, int rows)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO data_predictions (job_id, chunk, row_id, label, value, score) VALUES "
            + string.Join(",", Enumerable.Range(0, rows).Select(i => $"(@j, @c, @r{i}, @l{i}, @v{i}, @s{i})"));
        command.Parameters.AddWithValue("@j", jobId);
        command.Parameters.AddWithValue("@c", chunk);
        for (var i = 0; i < rows; i++)
        {
            command.Parameters.Add($"@r{i}", SqliteType.Integer);
            command.Parameters.Add($"@l{i}", SqliteType.Text);
            command.Parameters.Add($"@v{i}", SqliteType.Real);
            command.Parameters.Add($"@s{i}", SqliteType.Real);
        }

        command.Prepare();
        return command;
    }
}
