using System.Data;
using System.Runtime.CompilerServices;
using Dapper;
using Formanova.Modules.Shared.Database;

namespace Formanova.Modules.Data.Results;

/// <summary>
/// Batch predictions, one packed record per chunk (<see cref="PredictionCodec"/>). A chunk is replaced as a whole in
/// one transaction, so a retried chunk leaves exactly one copy of its rows.
/// </summary>
internal sealed class PredictionStore(IDatabase database)
{
    private const string DeleteChunk = "DELETE FROM data_prediction_chunks WHERE job_id = @JobId AND chunk = @Chunk";

    private const string InsertChunk
        = "INSERT INTO data_prediction_chunks (job_id, chunk, rows, payload) VALUES (@JobId, @Chunk, @Rows, @Payload)";

    private const string SelectChunks = "SELECT payload FROM data_prediction_chunks WHERE job_id = @JobId ORDER BY chunk";

    private const string SelectJob = """
        SELECT model_name AS Model, model_version AS Version, COALESCE(completed_at, started_at) AS At FROM data_results
        WHERE job_id = @JobId AND model_name IS NOT NULL AND model_version IS NOT NULL
        ORDER BY id DESC
        LIMIT 1
        """;

    public async Task ReplaceChunkAsync(
        string jobId,
        int chunk,
        IReadOnlyList<StoredPrediction> predictions,
        CancellationToken cancellationToken)
    {
        var payload = PredictionCodec.Encode(InRowOrder(predictions));
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(
            new CommandDefinition(DeleteChunk, new { JobId = jobId, Chunk = chunk }, transaction, cancellationToken: cancellationToken));
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
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var reader = await connection.ExecuteReaderAsync(
            new CommandDefinition(SelectChunks, new { JobId = jobId }, commandTimeout: 0, cancellationToken: cancellationToken),
            CommandBehavior.SequentialAccess);
        while (await reader.ReadAsync(cancellationToken))
        {
            foreach (var row in PredictionCodec.Decode(await reader.GetFieldValueAsync<byte[]>(0, cancellationToken)))
            {
                yield return row;
            }
        }
    }

    /// <summary>
    /// One row's stored prediction with the job's model and version (from its recorded results), or null. The chunks
    /// are decoded one at a time, in order, until the row is found.
    /// </summary>
    public async Task<BatchRowPrediction?> FindAsync(string jobId, long rowId, CancellationToken cancellationToken)
    {
        JobRow? job;
        await using (var connection = await database.OpenConnectionAsync(cancellationToken))
        {
            job = await connection.QueryFirstOrDefaultAsync<JobRow>(
                new CommandDefinition(SelectJob, new { JobId = jobId }, cancellationToken: cancellationToken));
        }

        if (job is null)
        {
            return null;
        }

        await foreach (var row in StreamAsync(jobId, cancellationToken))
        {
            if (row.RowId == rowId)
            {
                return new BatchRowPrediction(jobId, rowId, job.Model, job.Version, job.At, row);
            }
        }

        return null;
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

    private sealed class JobRow
    {
        public string Model { get; set; } = "";

        public string Version { get; set; } = "";

        public DateTimeOffset At { get; set; }
    }
}
