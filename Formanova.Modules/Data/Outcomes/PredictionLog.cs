using System.Data;
using System.Data.Common;
using System.Globalization;
using Dapper;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Data.Outcomes;

/// <summary>
/// The prediction log (docs/feedback.md): predictions written in batches by the host's background writer, feedback
/// stored on the prediction's own row with its per-prediction losses, the outcome summary and the retention sweep.
/// </summary>
internal sealed class PredictionLog(IDatabase database, TimeProvider clock)
{
    private const string Insert = """
        INSERT INTO data_prediction_log (prediction_id, model_name, model_version, task, source, predicted_at, entity_id,
            experiment, arm, error_kind, label, value, score, probabilities, latency_ms, cached, fallback_from,
            served_prediction_id)
        VALUES (@PredictionId, @Model, @Version, @Task, @Source, @PredictedAt, @EntityId,
            @Experiment, @Arm, @ErrorKind, @Label, @Value, @Score, @Probabilities, @LatencyMs, @Cached, @FallbackFrom,
            @ServedPredictionId)
        ON CONFLICT (prediction_id) DO NOTHING
        """;

    // The same insert with its parameters numbered in order (?1 to ?18), for the positional binding on SQLite.
    private static readonly string NumberedInsert = PredictionLogRow.Columns.Select((p, i) => (p.Name, i))
        .OrderByDescending(p => p.Name.Length)
        .Aggregate(Insert, (sql, p) => sql.Replace(p.Name, $"?{p.i + 1}", StringComparison.Ordinal));

    private const string Columns = """
        id, prediction_id, model_name, model_version, task, label, value, probabilities, outcome_label, outcome_value
        """;

    private const string ById = $"SELECT {Columns} FROM data_prediction_log WHERE prediction_id = @Id AND error_kind IS NULL";

    // Served predictions only: the entity's answer is what the caller got, not a shadow arm's copy of it.
    internal const string ByEntity = $"""
        SELECT {Columns} FROM data_prediction_log
        WHERE model_name = @Model AND entity_id = @EntityId AND predicted_at <= @At AND error_kind IS NULL
            AND served_prediction_id IS NULL
        ORDER BY predicted_at DESC, id DESC
        LIMIT 1
        """;

    private const string StoreOutcome = """
        UPDATE data_prediction_log
        SET outcome_label = @Label, outcome_value = @Value, feedback_at = @At, correct = @Correct, log_loss = @LogLoss,
            abs_error = @AbsError
        WHERE id = @Id AND feedback_at IS NULL
        """;

    internal const string Shadows = $"""
        SELECT {Columns} FROM data_prediction_log
        WHERE served_prediction_id = @Id AND error_kind IS NULL AND feedback_at IS NULL
        """;

    private const string Window = "model_name = @Model AND predicted_at >= @Since AND predicted_at < @Until";

    private const string Aggregate = $"""
        SELECT model_version AS Version, COALESCE(experiment, '') AS Experiment, COALESCE(arm, '') AS Arm, MIN(task) AS Task,
            COUNT(*) AS Count,
            COUNT(feedback_at) AS WithFeedback,
            COUNT(error_kind) AS Failed,
            COUNT(fallback_from) AS Fallbacks,
            COUNT(latency_ms) AS Latencies,
            COUNT(correct) AS CorrectN,
            CAST(SUM(correct) AS DOUBLE PRECISION) AS CorrectSum,
            COUNT(log_loss) AS LogLossN,
            CAST(SUM(log_loss) AS DOUBLE PRECISION) AS LogLossSum,
            CAST(SUM(log_loss * log_loss) AS DOUBLE PRECISION) AS LogLossSquares,
            COUNT(abs_error) AS ErrorN,
            CAST(SUM(abs_error) AS DOUBLE PRECISION) AS AbsSum,
            CAST(SUM(abs_error * abs_error) AS DOUBLE PRECISION) AS SquaredSum,
            CAST(SUM(abs_error * abs_error * abs_error * abs_error) AS DOUBLE PRECISION) AS FourthSum
        FROM data_prediction_log
        WHERE {Window}
        GROUP BY model_version, COALESCE(experiment, ''), COALESCE(arm, '')
        ORDER BY model_version, COALESCE(experiment, ''), COALESCE(arm, '')
        """;

    private const string Group = "model_version = @Version AND COALESCE(experiment, '') = @Experiment AND COALESCE(arm, '') = @Arm";

    private const string Percentile = $"""
        SELECT latency_ms FROM data_prediction_log
        WHERE {Window} AND {Group} AND latency_ms IS NOT NULL
        ORDER BY latency_ms
        LIMIT 1 OFFSET @Offset
        """;

    private const string AucSample = $"""
        SELECT score AS Score, outcome_label AS Outcome FROM data_prediction_log
        WHERE {Window} AND {Group} AND feedback_at IS NOT NULL AND score IS NOT NULL
        ORDER BY id DESC
        LIMIT @Limit
        """;

    private const string DeleteOlder = "DELETE FROM data_prediction_log WHERE predicted_at < @Before";

    // The id of the row just past the cap, newest first: everything at or below it goes.
    private const string CapBoundary = "SELECT id FROM data_prediction_log ORDER BY id DESC LIMIT 1 OFFSET @Cap";

    private const string DeleteUpTo = "DELETE FROM data_prediction_log WHERE id <= @Id";

    private const string CountRows = "SELECT COUNT(*) FROM data_prediction_log";

    /// <summary>
    /// Writes a batch in one transaction through one prepared statement, rebinding its parameters per row: the writer
    /// runs beside every predict, and a command (with parameters looked up by name) per row cost it a fifth of the
    /// host's CPU under load (docs/benchmarks.md, "The shipped host against plain Kestrel").
    /// </summary>
    public async Task<int> AppendAsync(IReadOnlyList<LoggedPrediction> predictions, CancellationToken cancellationToken)
    {
        if (predictions.Count == 0)
        {
            return 0;
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (connection is Microsoft.Data.Sqlite.SqliteConnection sqlite)
        {
            var count = SqlitePredictionInsert.Write(sqlite, NumberedInsert, predictions);
            await transaction.CommitAsync(cancellationToken);
            return count;
        }

        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = Insert;
        command.CommandTimeout = database.CommandTimeoutSeconds;
        var parameters = PredictionLogRow.Columns.Select(column => AddParameter(command, column)).ToArray();
        await command.PrepareAsync(cancellationToken);
        var written = 0;
        foreach (var p in predictions)
        {
            PredictionLogRow.Write(new CommandBinder(parameters), p);
            written += await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return written;
    }

    /// <summary>
    /// Matches every item to its logged prediction and stores the outcomes in one transaction: all or nothing, so a
    /// wrong-typed outcome (Invalid) or a different outcome for a prediction that has one (Conflict), each naming
    /// <c>items[i].outcome</c>, leaves every row as it was.
    /// </summary>
    public async Task<IReadOnlyList<FeedbackItemResult>> RecordAsync(IReadOnlyList<FeedbackItem> items, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var matched = new LogRow?[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            matched[i] = await FindAsync(connection, transaction, items[i], cancellationToken);
        }

        var invalid = new Dictionary<string, string[]>();
        var conflicts = new Dictionary<string, string[]>();
        var results = new FeedbackItemResult[items.Count];
        var now = clock.GetUtcNow();
        for (var i = 0; i < items.Count; i++)
        {
            var (item, row) = (items[i], matched[i]);
            if (row is null)
            {
                results[i] = new FeedbackItemResult(i, FeedbackStatus.Unknown, item.PredictionId, null, null);
                continue;
            }

            var task = ParseTask(row.Task);
            var field = $"items[{i}].outcome";
            if (OutcomeLosses.TypeError(task, item) is { } typeError)
            {
                invalid[field] = [typeError];
                continue;
            }

            var status = FeedbackStatus.Recorded;
            if (row.OutcomeLabel is not null || row.OutcomeValue is not null)
            {
                if (!OutcomeLosses.SameOutcome(row.OutcomeLabel, row.OutcomeValue, item))
                {
                    var stored = row.OutcomeLabel ?? row.OutcomeValue?.ToString("R", CultureInfo.InvariantCulture);
                    conflicts[field] = [$"Prediction {row.PredictionId} already has the outcome {stored}; feedback is stored once."];
                    continue;
                }

                status = FeedbackStatus.Unchanged;
                // A shadow copy logged after the feedback came is scored when the feedback is repeated.
                await ScoreShadowsAsync(connection, transaction, row, task, item, now, cancellationToken);
            }
            else
            {
                var updated = await StoreAsync(connection, transaction, row, task, item, now, cancellationToken);
                await ScoreShadowsAsync(connection, transaction, row, task, item, now, cancellationToken);
                // Two items of one request naming the same prediction: the second finds it stored by the first.
                if (updated == 0)
                {
                    status = FeedbackStatus.Unchanged;
                }

                row.OutcomeLabel = item.Label;
                row.OutcomeValue = item.Value;
            }

            results[i] = new FeedbackItemResult(i, status, row.PredictionId, row.ModelName, row.ModelVersion);
        }

        if (invalid.Count > 0)
        {
            throw new ModuleException(ErrorKind.Invalid, "An outcome does not fit its prediction's task.", invalid);
        }

        if (conflicts.Count > 0)
        {
            throw new ModuleException(ErrorKind.Conflict, "A prediction already has a different outcome.", conflicts);
        }

        await transaction.CommitAsync(cancellationToken);
        return results;
    }

    public async Task<OutcomeSummary> SummarizeAsync(
        string model,
        DateTimeOffset since,
        DateTimeOffset until,
        int aucSampleRows,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var window = new { Model = model, Since = since, Until = until };
        var groups = new List<OutcomeGroup>();
        foreach (var g in await connection.QueryAsync<GroupRow>(
            new CommandDefinition(Aggregate, window, commandTimeout: 0, cancellationToken: cancellationToken)))
        {
            var group = new
            {
                window.Model,
                window.Since,
                window.Until,
                g.Version,
                g.Experiment,
                g.Arm,
                Offset = (long)Math.Max(0, Math.Ceiling(0.95 * g.Latencies) - 1),
                Limit = aucSampleRows,
            };
            double? p95 = g.Latencies == 0
                ? null
                : await connection.ExecuteScalarAsync<double>(new CommandDefinition(
                    Percentile, group, commandTimeout: 0, cancellationToken: cancellationToken));
            var task = ParseTask(g.Task);
            double? auc = null;
            (long Rows, long Positives)? sampled = null;
            if (task == OutcomeTask.BinaryClassification && g.WithFeedback > 0)
            {
                var sample = (await connection.QueryAsync<(double Score, string? Outcome)>(new CommandDefinition(
                    AucSample, group, commandTimeout: 0, cancellationToken: cancellationToken))).AsList();
                sampled = (sample.Count, sample.LongCount(s => OutcomeLosses.IsPositive(s.Outcome)));
                auc = OutcomeLosses.Auc(sample);
            }

            groups.Add(OutcomeLosses.Group(g, task, p95, auc, sampled));
        }

        return new OutcomeSummary(model, since, until, groups);
    }

    /// <summary>Deletes the rows logged before <paramref name="before"/>, then the oldest beyond <paramref name="maxRows"/>.</summary>
    public async Task<long> SweepAsync(DateTimeOffset before, long maxRows, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        long deleted = await connection.ExecuteAsync(new CommandDefinition(
            DeleteOlder, new { Before = before }, commandTimeout: 0, cancellationToken: cancellationToken));
        var boundary = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            CapBoundary, new { Cap = maxRows }, cancellationToken: cancellationToken));
        if (boundary is { } id)
        {
            deleted += await connection.ExecuteAsync(new CommandDefinition(
                DeleteUpTo, new { Id = id }, commandTimeout: 0, cancellationToken: cancellationToken));
        }

        return deleted;
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(CountRows, cancellationToken: cancellationToken));
    }

    private static DbParameter AddParameter(DbCommand command, (string Name, DbType Type) column)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = column.Name;
        parameter.DbType = column.Type;
        command.Parameters.Add(parameter);
        return parameter;
    }

    public static string TaskText(OutcomeTask task) => task switch
    {
        OutcomeTask.BinaryClassification => "binaryClassification",
        OutcomeTask.MulticlassClassification => "multiclassClassification",
        _ => "regression",
    };

    private static async Task<int> StoreAsync(
        DbConnection connection,
        DbTransaction transaction,
        LogRow row,
        OutcomeTask task,
        FeedbackItem item,
        DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var losses = OutcomeLosses.Of(task, row.Label, row.Value, row.Probabilities, item);
        return await connection.ExecuteAsync(new CommandDefinition(
            StoreOutcome,
            new { row.Id, item.Label, item.Value, At = now, losses.Correct, losses.LogLoss, losses.AbsError },
            transaction,
            cancellationToken: cancellationToken));
    }

    // The shadow arms' copies of a served prediction share its outcome, each scored against its own answer.
    private static async Task ScoreShadowsAsync(
        DbConnection connection,
        DbTransaction transaction,
        LogRow served,
        OutcomeTask task,
        FeedbackItem item,
        DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var shadows = await connection.QueryAsync<LogRow>(new CommandDefinition(
            Shadows, new { Id = served.PredictionId }, transaction, cancellationToken: cancellationToken));
        foreach (var shadow in shadows)
        {
            await StoreAsync(connection, transaction, shadow, task, item, now, cancellationToken);
        }
    }

    private static OutcomeTask ParseTask(string text) => text switch
    {
        "binaryClassification" => OutcomeTask.BinaryClassification,
        "multiclassClassification" => OutcomeTask.MulticlassClassification,
        _ => OutcomeTask.Regression,
    };

    private static Task<LogRow?> FindAsync(DbConnection connection, DbTransaction transaction, FeedbackItem item, CancellationToken ct) =>
        item.PredictionId is { } id
            ? connection.QuerySingleOrDefaultAsync<LogRow>(new CommandDefinition(ById, new { Id = id }, transaction, cancellationToken: ct))
            : connection.QueryFirstOrDefaultAsync<LogRow>(new CommandDefinition(
                ByEntity,
                new { item.Model, item.EntityId, At = item.At ?? DateTimeOffset.MaxValue },
                transaction,
                cancellationToken: ct));

    // UTC timestamps, as DapperTypeHandlers stores them everywhere else.
    private readonly struct CommandBinder(DbParameter[] parameters) : IPredictionLogBinder
    {
        public void Text(int column, string? value) => parameters[column].Value = (object?)value ?? DBNull.Value;

        public void Real(int column, double? value) => parameters[column].Value = (object?)value ?? DBNull.Value;

        public void Flag(int column, bool value) => parameters[column].Value = value;

        public void Time(int column, DateTimeOffset value) => parameters[column].Value = value.ToUniversalTime();
    }

    internal sealed class LogRow
    {
        public long Id { get; set; }

        public string PredictionId { get; set; } = "";

        public string ModelName { get; set; } = "";

        public string ModelVersion { get; set; } = "";

        public string Task { get; set; } = "";

        public string? Label { get; set; }

        public double? Value { get; set; }

        public string? Probabilities { get; set; }

        public string? OutcomeLabel { get; set; }

        public double? OutcomeValue { get; set; }
    }

    internal sealed class GroupRow
    {
        public string Version { get; set; } = "";

        public string Experiment { get; set; } = "";

        public string Arm { get; set; } = "";

        public string Task { get; set; } = "";

        public long Count { get; set; }

        public long WithFeedback { get; set; }

        public long Failed { get; set; }

        public long Fallbacks { get; set; }

        public long Latencies { get; set; }

        public long CorrectN { get; set; }

        public double? CorrectSum { get; set; }

        public long LogLossN { get; set; }

        public double? LogLossSum { get; set; }

        public double? LogLossSquares { get; set; }

        public long ErrorN { get; set; }

        public double? AbsSum { get; set; }

        public double? SquaredSum { get; set; }

        public double? FourthSum { get; set; }
    }
}
