using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Dapper;
using Formanova.Modules.Shared.Database;

namespace Formanova.Modules.Data.Results;

/// <summary>
/// Batch predictions, one packed record per chunk (<see cref="PredictionCodec"/>). A chunk is replaced as a whole in
/// one transaction, so a retried chunk leaves exactly one copy of its rows. Chunks stored before migration 0005 are
/// rows of <c>data_predictions</c>: they are read from there, and a chunk stored again moves to the packed table.
/// </summary>
internal sealed class PredictionStore(IDatabase database)
{
    private const string DeleteChunk = "DELETE FROM data_prediction_chunks WHERE job_id = @JobId AND chunk = @Chunk";

    private const string DeleteRowChunk = "DELETE FROM data_predictions WHERE job_id = @JobId AND chunk = @Chunk";

    private const string InsertChunk
        = "INSERT INTO data_prediction_chunks (job_id, chunk, rows, payload) VALUES (@JobId, @Chunk, @Rows, @Payload)";

    // A chunk lives in exactly one of the two tables (storing it deletes it from both first).
    private const string SelectRowChunks = "SELECT DISTINCT chunk FROM data_predictions WHERE job_id = @JobId ORDER BY chunk";

    private const string SelectPackedChunks = "SELECT chunk, payload FROM data_prediction_chunks WHERE job_id = @JobId ORDER BY chunk";

    private const string SelectRows
        = "SELECT row_id, label, value, score FROM data_predictions WHERE job_id = @JobId AND chunk = @Chunk ORDER BY row_id";

    public async Task ReplaceChunkAsync(
        string jobId,
        int chunk,
        IReadOnlyList<StoredPrediction> predictions,
        CancellationToken cancellationToken)
    {
        var payload = PredictionCodec.Encode(InRowOrder(predictions));
        var key = new { JobId = jobId, Chunk = chunk };
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(DeleteChunk, key, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(
            new CommandDefinition(DeleteRowChunk, key, transaction, commandTimeout: 0, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            InsertChunk,
            new { JobId = jobId, Chunk = chunk, Rows = predictions.Count, Payload = payload },
            transaction,
            commandTimeout: 0,
            cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Every prediction of a job in chunk then row order, one chunk in memory at a time.</summary>
    public async IAsyncEnumerable<StoredPrediction> StreamAsync(string jobId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var job = new { JobId = jobId };
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rowChunks = new Queue<int>(await connection.QueryAsync<int>(
            new CommandDefinition(SelectRowChunks, job, commandTimeout: 0, cancellationToken: cancellationToken)));

        // The packed chunks come in one read; chunks stored as rows before the upgrade are read between them, on a
        // second connection because the read holds the first.
        await using var rowConnection = rowChunks.Count > 0 ? await database.OpenConnectionAsync(cancellationToken) : null;
        await using (var reader = await connection.ExecuteReaderAsync(
            new CommandDefinition(SelectPackedChunks, job, commandTimeout: 0, cancellationToken: cancellationToken),
            CommandBehavior.SequentialAccess))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var chunk = reader.GetInt32(0);
                while (rowChunks.Count > 0 && rowChunks.Peek() < chunk)
                {
                    foreach (var row in await ReadRowChunkAsync(rowConnection!, jobId, rowChunks.Dequeue(), cancellationToken))
                    {
                        yield return row;
                    }
                }

                foreach (var row in PredictionCodec.Decode(await reader.GetFieldValueAsync<byte[]>(1, cancellationToken)))
                {
                    yield return row;
                }
            }
        }

        while (rowChunks.Count > 0)
        {
            foreach (var row in await ReadRowChunkAsync(rowConnection!, jobId, rowChunks.Dequeue(), cancellationToken))
            {
                yield return row;
            }
        }
    }

    private static async Task<IEnumerable<StoredPrediction>> ReadRowChunkAsync(
        DbConnection connection,
        string jobId,
        int chunk,
        CancellationToken cancellationToken) =>
        (await connection.QueryAsync<(long RowId, string? Label, double? Value, double? Score)>(
            new CommandDefinition(SelectRows, new { JobId = jobId, Chunk = chunk }, commandTimeout: 0, cancellationToken: cancellationToken)))
            .Select(r => new StoredPrediction(r.RowId, r.Label, r.Value, r.Score));

    private static IReadOnlyList<StoredPrediction> InRowOrder(IReadOnlyList<StoredPrediction> predictions)
    {
        for (var i = 1; i < predictions.Count; i++)
        {
            if (predictions[i].RowId < predictions[i - 1].RowId)
            {
                return [.. predictions.OrderBy(p => p.RowId)];
            }
        }

        return predictions;
    }
}
