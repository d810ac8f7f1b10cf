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

    private const string InsertChunk = "INSERT INTO data_prediction_chunks (job_id, chunk, rows, payload) VALUES (@JobId, @Chunk, @Rows, @Payload)";

    // A chunk lives in exactly one of the two tables (storing it deletes it from both first).
    private const string SelectChunks = """
        SELECT chunk, 1 AS packed FROM data_prediction_chunks WHERE job_id = @JobId
        UNION ALL
        SELECT DISTINCT chunk, 0 AS packed FROM data_predictions WHERE job_id = @JobId
        ORDER BY chunk
        """;

    private const string SelectPacked = "SELECT payload FROM data_prediction_chunks WHERE job_id = @JobId AND chunk = @Chunk";

    private const string SelectRows = "SELECT row_id, label, value, score FROM data_predictions WHERE job_id = @JobId AND chunk = @Chunk ORDER BY row_id";

    public async Task ReplaceChunkAsync(string jobId, int chunk, IReadOnlyList<StoredPrediction> predictions, CancellationToken cancellationToken)
    {
        var payload = PredictionCodec.Encode(InRowOrder(predictions));
        var key = new { JobId = jobId, Chunk = chunk };
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(DeleteChunk, key, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(DeleteRowChunk, key, transaction, commandTimeout: 0, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(InsertChunk, new { JobId = jobId, Chunk = chunk, Rows = predictions.Count, Payload = payload }, transaction, commandTimeout: 0, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Every prediction of a job in chunk then row order, one chunk in memory at a time.</summary>
    public async IAsyncEnumerable<StoredPrediction> StreamAsync(string jobId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var chunks = await connection.QueryAsync<(int Chunk, int Packed)>(new CommandDefinition(SelectChunks, new { JobId = jobId }, commandTimeout: 0, cancellationToken: cancellationToken));
        foreach (var (chunk, packed) in chunks)
        {
            var key = new { JobId = jobId, Chunk = chunk };
            var rows = packed == 1
                ? PredictionCodec.Decode(await connection.QuerySingleAsync<byte[]>(new CommandDefinition(SelectPacked, key, cancellationToken: cancellationToken)))
                : (await connection.QueryAsync<(long RowId, string? Label, double? Value, double? Score)>(new CommandDefinition(SelectRows, key, commandTimeout: 0, cancellationToken: cancellationToken)))
                    .Select(r => new StoredPrediction(r.RowId, r.Label, r.Value, r.Score));
            foreach (var row in rows)
            {
                yield return row;
            }
        }
    }

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
