using Dapper;
using Formanova.Modules.Shared.Database;

namespace Formanova.Modules.Event.Webhooks;

internal sealed class WebhookRow
{
    public long Id { get; set; }

    public string Url { get; set; } = "";

    /// <summary>Comma-separated; empty means every type.</summary>
    public string EventTypes { get; set; } = "";

    public string Secret { get; set; } = "";

    public string? Description { get; set; }

    public long StartAfterEventId { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public IReadOnlyList<string> TypeList => EventTypes.Length == 0 ? [] : EventTypes.Split(',');

    public bool Accepts(string type) => EventTypes.Length == 0 || TypeList.Contains(type, StringComparer.Ordinal);

    public Webhook ToWebhook()
        => new(Id, Url, TypeList.Count == 0 ? [IEventModule.AllEventTypes] : TypeList, Description, StartAfterEventId, CreatedAt);
}

internal sealed class DeliveryRow
{
    public long Id { get; set; }

    public long WebhookId { get; set; }

    public long EventId { get; set; }

    public string Status { get; set; } = Pending;

    public int Attempts { get; set; }

    public DateTimeOffset NextAttemptAt { get; set; }

    public int? LastStatusCode { get; set; }

    public string? LastError { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public DateTimeOffset? DeliveredAt { get; set; }

    public const string Pending = "pending";
    public const string Delivered = "delivered";
    public const string DeadLettered = "dead_lettered";

    public static string ToText(DeliveryStatus status) => status switch
    {
        DeliveryStatus.Delivered => Delivered,
        DeliveryStatus.DeadLettered => DeadLettered,
        _ => Pending,
    };

    public WebhookDelivery ToDelivery() => new(Id, WebhookId, EventId,
        Status switch { Delivered => DeliveryStatus.Delivered, DeadLettered => DeliveryStatus.DeadLettered, _ => DeliveryStatus.Pending },
        Attempts, NextAttemptAt, LastStatusCode, LastError, CreatedAt, UpdatedAt, DeliveredAt);
}

internal sealed class AttemptRow
{
    public int Attempt { get; set; }

    public DateTimeOffset AttemptedAt { get; set; }

    public string Outcome { get; set; } = "";

    public int? StatusCode { get; set; }

    public string? Error { get; set; }

    public double DurationMs { get; set; }

    public WebhookAttempt ToAttempt() => new(Attempt, AttemptedAt, Enum.Parse<DeliveryOutcome>(Outcome), StatusCode, Error, DurationMs);
}

/// <summary>A delivery to create or reset by the fan-out or a replay.</summary>
internal sealed record NewDelivery(long WebhookId, long EventId, DateTimeOffset Now);

internal sealed class WebhookStore(IDatabase database)
{
    private const string WebhookColumns
        = "SELECT id, url, event_types, secret, description, start_after_event_id, created_at FROM event_webhooks";

    private const string DeliveryColumns = """
        SELECT id, webhook_id, event_id, status, attempts, next_attempt_at, last_status_code, last_error,
               created_at, updated_at, delivered_at
        FROM event_webhook_deliveries
        """;

    private const string InsertWebhook = """
        INSERT INTO event_webhooks (url, event_types, secret, description, start_after_event_id, created_at)
        VALUES (@Url, @EventTypes, @Secret, @Description, (SELECT COALESCE(MAX(id), 0) FROM event_log), @CreatedAt)
        RETURNING id, url, event_types, secret, description, start_after_event_id, created_at
        """;

    private const string DeleteWebhook = """
        DELETE FROM event_webhook_attempts WHERE delivery_id IN (SELECT id FROM event_webhook_deliveries WHERE webhook_id = @Id);
        DELETE FROM event_webhook_deliveries WHERE webhook_id = @Id;
        DELETE FROM event_webhooks WHERE id = @Id;
        """;

    private const string InsertDelivery = """
        INSERT INTO event_webhook_deliveries (webhook_id, event_id, status, attempts, next_attempt_at, created_at, updated_at)
        VALUES (@WebhookId, @EventId, 'pending', 0, @Now, @Now, @Now)
        ON CONFLICT (webhook_id, event_id) DO NOTHING
        """;

    private const string UpsertDelivery = """
        INSERT INTO event_webhook_deliveries (webhook_id, event_id, status, attempts, next_attempt_at, created_at, updated_at)
        VALUES (@WebhookId, @EventId, 'pending', 0, @Now, @Now, @Now)
        ON CONFLICT (webhook_id, event_id) DO UPDATE SET status = 'pending', attempts = 0, next_attempt_at = excluded.next_attempt_at,
            lease_until = NULL, updated_at = excluded.updated_at, delivered_at = NULL
        """;

    private const string SelectDue = DeliveryColumns + """

        WHERE status = 'pending' AND next_attempt_at <= @Now AND (lease_until IS NULL OR lease_until < @Now)
        ORDER BY next_attempt_at, id LIMIT @Limit
        """;

    private const string Claim = """
        UPDATE event_webhook_deliveries SET lease_until = @Until, updated_at = @Now
        WHERE id = @Id AND status = 'pending' AND (lease_until IS NULL OR lease_until < @Now)
        """;

    private const string InsertAttempt = """
        INSERT INTO event_webhook_attempts (delivery_id, attempt, attempted_at, outcome, status_code, error, duration_ms)
        VALUES (@DeliveryId, @Attempt, @AttemptedAt, @Outcome, @StatusCode, @Error, @DurationMs)
        """;

    private const string UpdateAfterAttempt = """
        UPDATE event_webhook_deliveries SET status = @Status, attempts = @Attempts, next_attempt_at = @NextAttemptAt, lease_until = NULL,
            last_status_code = @StatusCode, last_error = @Error, updated_at = @Now, delivered_at = @DeliveredAt
        WHERE id = @Id
        """;

    private const string Reset = """
        UPDATE event_webhook_deliveries
        SET status = 'pending', attempts = 0, next_attempt_at = @Now, lease_until = NULL, updated_at = @Now, delivered_at = NULL
        WHERE id = @Id
        """;

    private const string DeadLetter = """
        UPDATE event_webhook_deliveries SET status = 'dead_lettered', last_error = @Reason, lease_until = NULL, updated_at = @Now
        WHERE id = @Id AND status = 'pending'
        """;

    private const string SelectAttempts = """
        SELECT attempt, attempted_at, outcome, status_code, error, duration_ms FROM event_webhook_attempts
        WHERE delivery_id = @Id ORDER BY id
        """;

    private const string SelectCursor = "SELECT position FROM event_cursors WHERE name = @Name";

    private const string AdvanceCursor = """
        INSERT INTO event_cursors (name, position) VALUES (@Name, @Position)
        ON CONFLICT (name) DO UPDATE SET position = excluded.position WHERE event_cursors.position < excluded.position
        """;

    private const string DeleteFinishedBefore = """
        DELETE FROM event_webhook_attempts WHERE delivery_id IN
            (SELECT id FROM event_webhook_deliveries WHERE status <> 'pending' AND updated_at < @Cutoff);
        DELETE FROM event_webhook_deliveries WHERE status <> 'pending' AND updated_at < @Cutoff;
        """;

    public async Task<WebhookRow> InsertAsync(
        string url,
        IReadOnlyList<string> types,
        string secret,
        string? description,
        DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleAsync<WebhookRow>(new CommandDefinition(InsertWebhook,
            new
            {
                Url = url,
                EventTypes = string.Join(
                ',',
                types),
                Secret = secret,
                Description = description,
                CreatedAt = now
            }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<WebhookRow>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<WebhookRow>(
            new CommandDefinition(WebhookColumns + " ORDER BY id", cancellationToken: cancellationToken))).AsList();
    }

    public async Task<WebhookRow?> GetAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<WebhookRow>(
            new CommandDefinition(WebhookColumns + " WHERE id = @Id", new { Id = id }, cancellationToken: cancellationToken));
    }

    public async Task<bool> DeleteAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var exists = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT id FROM event_webhooks WHERE id = @Id",
            new { Id = id },
            transaction,
            cancellationToken: cancellationToken));
        if (exists is null)
        {
            return false;
        }

        await connection.ExecuteAsync(
            new CommandDefinition(DeleteWebhook, new { Id = id }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Creates (or, with <paramref name="reset"/>, re-queues) deliveries; returns how many rows changed.</summary>
    public async Task<int> QueueAsync(IReadOnlyList<NewDelivery> deliveries, bool reset, CancellationToken cancellationToken)
    {
        if (deliveries.Count == 0)
        {
            return 0;
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var changed = await connection.ExecuteAsync(
            new CommandDefinition(reset ? UpsertDelivery : InsertDelivery, deliveries, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return changed;
    }

    public async Task<IReadOnlyList<DeliveryRow>> DueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<DeliveryRow>(
            new CommandDefinition(SelectDue, new { Now = now, Limit = limit }, cancellationToken: cancellationToken))).AsList();
    }

    public async Task<IReadOnlyList<DeliveryRow>> ListDeliveriesAsync(
        long webhookId,
        string? status,
        int limit,
        CancellationToken cancellationToken)
    {
        var sql = DeliveryColumns + " WHERE webhook_id = @WebhookId" + (status is null ? "" : " AND status = @Status")
            + " ORDER BY id DESC LIMIT @Limit";
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<DeliveryRow>(
            new CommandDefinition(
                sql,
                new { WebhookId = webhookId, Status = status, Limit = limit },
                cancellationToken: cancellationToken))).AsList();
    }

    public async Task<DeliveryRow?> GetDeliveryAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<DeliveryRow>(
            new CommandDefinition(DeliveryColumns + " WHERE id = @Id", new { Id = id }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<AttemptRow>> AttemptsAsync(long deliveryId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<AttemptRow>(
            new CommandDefinition(SelectAttempts, new { Id = deliveryId }, cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>Takes the delivery for one attempt; false when it is finished or another attempt holds it.</summary>
    public async Task<bool> ClaimAsync(long id, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(
            new CommandDefinition(Claim, new { Id = id, Now = now, Until = until }, cancellationToken: cancellationToken)) == 1;
    }

    public async Task RecordAttemptAsync(
        DeliveryRow updated,
        SendResult result,
        DateTimeOffset attemptedAt,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(InsertAttempt, new
        {
            DeliveryId = updated.Id,
            Attempt = updated.Attempts,
            AttemptedAt = attemptedAt,
            Outcome = result.Outcome.ToString(),
            result.StatusCode,
            result.Error,
            result.DurationMs,
        }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(UpdateAfterAttempt, new
        {
            updated.Id,
            updated.Status,
            updated.Attempts,
            updated.NextAttemptAt,
            StatusCode = updated.LastStatusCode,
            Error = updated.LastError,
            Now = updated.UpdatedAt,
            updated.DeliveredAt,
        }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<bool> ResetAsync(long id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(
            new CommandDefinition(Reset, new { Id = id, Now = now }, cancellationToken: cancellationToken)) == 1;
    }

    public async Task DeadLetterAsync(long id, string reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(
            new CommandDefinition(DeadLetter, new { Id = id, Reason = reason, Now = now }, cancellationToken: cancellationToken));
    }

    public async Task<long?> CursorAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long?>(
            new CommandDefinition(SelectCursor, new { Name = name }, cancellationToken: cancellationToken));
    }

    public async Task AdvanceCursorAsync(string name, long position, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(
            new CommandDefinition(AdvanceCursor, new { Name = name, Position = position }, cancellationToken: cancellationToken));
    }

    public async Task<int> DeleteFinishedBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(
            new CommandDefinition(DeleteFinishedBefore, new { Cutoff = cutoff }, cancellationToken: cancellationToken));
    }
}
