using System.Text.Json;
using Dapper;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Data.Results;

internal sealed class ResultRow
{
    public long Id { get; set; }

    public string JobId { get; set; } = "";

    public string Step { get; set; } = "";

    public string? WorkflowId { get; set; }

    public string? ModelName { get; set; }

    public string? ModelVersion { get; set; }

    public string Status { get; set; } = "";

    public string? Input { get; set; }

    public string? Output { get; set; }

    public string? Error { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }

    public double? DurationMs { get; set; }

    public DateTimeOffset RecordedAt { get; set; }

    public ProcessingResult ToRecord() => new(
        Id, JobId, Step, WorkflowId, ModelName, ModelVersion, Enum.Parse<ResultStatus>(Status),
        Input is null ? null : JsonDocument.Parse(Input).RootElement.Clone(),
        Output is null ? null : JsonDocument.Parse(Output).RootElement.Clone(),
        Error, StartedAt, CompletedAt, DurationMs, RecordedAt);
}

/// <summary>Processing results, one per (job, step): the key that makes at-least-once activities write once.</summary>
internal sealed class ResultRepository(IDatabase database, TimeProvider clock)
{
    private const string Columns = """
        id, job_id, step, workflow_id, model_name, model_version, status, input, output, error,
        started_at, completed_at, duration_ms, recorded_at
        """;

    // A retry replaces an earlier failed or running attempt, but never a success: the first success is the result.
    private const string Upsert = $"""
        INSERT INTO data_results (job_id, step, workflow_id, model_name, model_version, status, input, output, error,
                                  started_at, completed_at, duration_ms, recorded_at)
        VALUES (@JobId, @Step, @WorkflowId, @ModelName, @ModelVersion, @Status, @Input, @Output, @Error,
                @StartedAt, @CompletedAt, @DurationMs, @RecordedAt)
        ON CONFLICT (job_id, step) DO UPDATE SET
            workflow_id = excluded.workflow_id, model_name = excluded.model_name, model_version = excluded.model_version,
            status = excluded.status, input = excluded.input, output = excluded.output, error = excluded.error,
            started_at = excluded.started_at, completed_at = excluded.completed_at, duration_ms = excluded.duration_ms,
            recorded_at = excluded.recorded_at
        WHERE data_results.status <> 'Succeeded'
        """;

    private const string SelectOne = $"SELECT {Columns} FROM data_results WHERE job_id = @JobId AND step = @Step";

    private const string SelectPage = $"""
        SELECT {Columns} FROM data_results
        WHERE (@JobId IS NULL OR job_id = @JobId)
          AND (@Model IS NULL OR model_name = @Model)
          AND (@HasFrom = 0 OR started_at >= @From)
          AND (@HasTo = 0 OR started_at < @To)
          AND (@HasCursor = 0 OR id < @Cursor)
        ORDER BY id DESC
        LIMIT @Limit
        """;

    public async Task<ProcessingResult> RecordAsync(RecordResultRequest request, CancellationToken cancellationToken)
    {
        Validate(request);
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var completed = request.CompletedAt;
        await connection.ExecuteAsync(new CommandDefinition(Upsert, new
        {
            request.JobId,
            request.Step,
            request.WorkflowId,
            request.ModelName,
            request.ModelVersion,
            Status = request.Status.ToString(),
            Input = request.Input?.GetRawText(),
            Output = request.Output?.GetRawText(),
            request.Error,
            request.StartedAt,
            CompletedAt = completed,
            DurationMs = completed is { } end ? (end - request.StartedAt).TotalMilliseconds : (double?)null,
            RecordedAt = clock.GetUtcNow(),
        }, cancellationToken: cancellationToken));
        var row = await connection.QuerySingleAsync<ResultRow>(
            new CommandDefinition(SelectOne, new { request.JobId, request.Step }, cancellationToken: cancellationToken));
        return row.ToRecord();
    }

    public async Task<ResultPage> QueryAsync(ResultQuery query, int maxPageSize, CancellationToken cancellationToken)
    {
        if (query.Limit < 1 || query.Limit > maxPageSize)
        {
            throw ModuleException.Invalid("limit", $"limit must be between 1 and {maxPageSize}.");
        }

        if (query.From is { } from && query.To is { } to && from >= to)
        {
            throw ModuleException.Invalid("from", "from must be earlier than to.");
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<ResultRow>(new CommandDefinition(SelectPage, new
        {
            query.JobId,
            query.Model,
            HasFrom = query.From is null ? 0 : 1,
            From = query.From ?? DateTimeOffset.UnixEpoch,
            HasTo = query.To is null ? 0 : 1,
            To = query.To ?? DateTimeOffset.UnixEpoch,
            HasCursor = query.Cursor is null ? 0 : 1,
            Cursor = query.Cursor ?? 0,
            Limit = query.Limit + 1,
        }, cancellationToken: cancellationToken))).AsList();
        var items = rows.Take(query.Limit).Select(r => r.ToRecord()).ToList();
        return new ResultPage(items, rows.Count > query.Limit ? items[^1].Id : null);
    }

    private static void Validate(RecordResultRequest request)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.JobId) || request.JobId.Length > 200)
        {
            errors["jobId"] = ["A job id of 1 to 200 characters is required."];
        }

        if (string.IsNullOrWhiteSpace(request.Step) || request.Step.Length > 200)
        {
            errors["step"] = ["A step name of 1 to 200 characters is required."];
        }

        if (!Enum.IsDefined(request.Status))
        {
            errors["status"] = ["Unknown status."];
        }

        if (request.CompletedAt is { } completed && completed < request.StartedAt)
        {
            errors["completedAt"] = ["completedAt is earlier than startedAt."];
        }

        if (errors.Count > 0)
        {
            throw new ModuleException(ErrorKind.Invalid, "The result is invalid.", errors);
        }
    }
}
