using System.Globalization;
using System.Text.Json;
using Formanova.Modules.Event.Log;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Formanova.Modules.Event.Api;

/// <summary>History, lookup and publishing: <c>/api/v1/events</c>.</summary>
internal static class EventEndpoints
{
    private static readonly ApiParameterMetadata AfterParameter = new(
        "after", ApiParameterLocation.Query, ApiParameterType.WholeNumber,
        "Only events with a greater sequence number (0 when absent): the previous page's `nextAfter`.", Minimum: 0);

    private static readonly ApiParameterMetadata TypeParameter = new(
        "type", ApiParameterLocation.Query, ApiParameterType.TextList,
        "Only these event types (UPPER_SNAKE, e.g. `MODEL_ACTIVATED`): repeat the parameter or separate types with "
        + "commas, at most 20.");

    private static readonly ApiParameterMetadata SourceParameter = new(
        "source", ApiParameterLocation.Query, ApiParameterType.Text,
        "Only events whose source is this URI reference or lies under it as a path (`/workflows/abc` matches "
        + "`/workflows/abc/runs/1`, not `/workflows/abcd`). Not with `workflowId`.",
        MaxLength: 512);

    private static readonly ApiParameterMetadata WorkflowIdParameter = new(
        "workflowId", ApiParameterLocation.Query, ApiParameterType.Text,
        "Only the events of this workflow run (a training run, job, batch job or promotion id): short for "
        + "`source=/workflows/{workflowId}`. Not with `source`.",
        Pattern: "^[^/\\s]+$",
        MaxLength: 200);

    private static readonly CloudEvent ExampleEvent = new(
        "1.0",
        "42",
        "/workflows/training-8f14e45fceea4167a5a36dedd4bea254",
        IEventModule.ModelRegistered,
        "churn/1.2.0",
        new DateTimeOffset(2026, 11, 26, 12, 0, 0, 123, TimeSpan.Zero),
        "application/json",
        "training-8f14e45fceea4167a5a36dedd4bea254",
        JsonSerializer.SerializeToElement(new
        {
            model = "churn",
            version = "1.2.0",
            trainer = "FastTree",
            metrics = new { auc = 0.91, accuracy = 0.86 },
            trainRows = 5634,
            testRows = 1409,
            trainingSeconds = 4.2,
        }));

    private static readonly CloudEvent PublishedEvent = new(
        "1.0",
        "43",
        "/workflows/nightly-scoring/runs/run-1",
        IEventModule.WorkflowCompleted,
        "models/churn/1.2.0",
        new DateTimeOffset(2026, 11, 26, 12, 0, 1, 5, TimeSpan.Zero),
        "application/json",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        JsonSerializer.SerializeToElement(new { durationMs = 812, rows = 12500 }));

    public static void Map(IEndpointRouteBuilder api)
    {
        var events = api.MapGroup("/events").WithTags("Events");
        events.MapGet("/", ListAsync).WithName("ListEvents")
            .WithSummary("List events")
            .WithDescription(
                "The event log's history, oldest first: the events with a sequence greater than `after` (0 when absent), "
                + "at most `limit` of them (1 to `Event:MaxPageSize`, 1000 by default; `Event:DefaultPageSize`, 100, when "
                + "absent). Filter by `type` and by `source` or `workflowId` (not both). To page, pass the answer's "
                + "`nextAfter` back as `after` with the same filters; `nextAfter` is null on the last page. Events older "
                + "than `Event:RetentionDays` are gone: an `after` before the retained range starts at the oldest event kept.")
            .WithParameter(AfterParameter)
            .WithParameter(new ApiParameterMetadata(
                "limit", ApiParameterLocation.Query, ApiParameterType.WholeNumber,
                "How many events at most (1 to `Event:MaxPageSize`; `Event:DefaultPageSize` when absent).", Minimum: 1))
            .WithParameter(TypeParameter)
            .WithParameter(SourceParameter)
            .WithParameter(WorkflowIdParameter)
            .ProducesValidationProblem()
            .WithResponseExample(new EventPage([ExampleEvent], 42));
        events.MapGet("/{sequence:long}", GetAsync).WithName("GetEvent")
            .WithSummary("Get an event")
            .WithDescription("One event of the log by its sequence number (its CloudEvent `id`); 404 when there is none or "
                + "retention has removed it.")
            .WithResponseExample(ExampleEvent);
        events.MapPost("/", PublishAsync).WithName("PublishEvent").WithIdempotencyKey()
            .WithSummary("Publish an event")
            .WithDescription(
                "Appends an event to the log and answers **201** with it (`Location`: the event) once it is committed; "
                + "subscribers of the stream and matching webhooks receive it. `type` is UPPER_SNAKE (at most 100 "
                + "characters), `source` a URI reference (no spaces, at most 512 characters), `data` any JSON value up to "
                + "`Event:MaxDataBytes` (larger is a 413 unless `dataRef` says where the full data is read: then the log "
                + "keeps a summary of its top-level scalar fields).\n\n"
                + "**Idempotency:** a key in the `Idempotency-Key` header or the `idempotencyKey` field (not two different "
                + "ones) makes a retry safe: the same key with the same event answers **200** with the event stored first; "
                + "with another type, source, subject, correlation id or data (compared as JSON) it is a 409. Keys are "
                + "scoped to the API key that sent them. Without a key every publish stores a new event.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithRequestExample(new PublishEventRequest(
                "WORKFLOW_COMPLETED",
                "/workflows/nightly-scoring/runs/run-1",
                JsonSerializer.SerializeToElement(new { durationMs = 812, rows = 12500 }),
                "models/churn/1.2.0",
                CorrelationId: "4bf92f3577b34da6a3ce929d0e0e4736"))
            .WithResponseExample(PublishedEvent, StatusCodes.Status201Created)
            .WithResponseExample(PublishedEvent);
        events.MapGet("/stream", EventStream.RunAsync).WithName("StreamEvents")
            .WithSummary("Stream events (Server-Sent Events)")
            .WithDescription(
                "A live `text/event-stream` of the events committed from now on, filtered like the history (`type`, "
                + "`source` or `workflowId`). It opens with `retry: {Event:Stream:RetryMilliseconds}` and the comment "
                + "`: connected`; each event is one frame `id: {sequence}` + `data: {CloudEvent JSON}` (the default "
                + "`message` event: the type is in the JSON), and a `: heartbeat` comment comes every "
                + "`Event:Stream:HeartbeatSeconds` (15) so proxies keep an idle connection open.\n\n"
                + "**Resume:** with `Last-Event-ID` (what `EventSource` sends on reconnect; it wins over `after`) or "
                + "`after`, the stream first replays the matching events after that sequence from the log, then goes "
                + "live, with neither gaps nor duplicates. Without either, no history is replayed.\n\n"
                + "A client that falls `Event:Broadcast:SubscriberBufferSize` (1000) events behind gets a final "
                + "`event: closed` frame whose data is `{\"reason\": ..., \"lastEventId\": ...}`, and the stream ends: "
                + "reconnect with that `Last-Event-ID` to continue without loss. Invalid parameters are a 400 before "
                + "the stream starts.")
            .WithParameter(new ApiParameterMetadata(
                "Last-Event-ID", ApiParameterLocation.Header, ApiParameterType.Text,
                "Resume after this event sequence (a non-negative integer): the events after it are replayed first. "
                + "Takes precedence over `after`.",
                Pattern: "^[0-9]+$"))
            .WithParameter(AfterParameter with
            {
                Description = "Replay the events after this sequence first, then stream live. Absent: live only.",
            })
            .WithParameter(TypeParameter)
            .WithParameter(SourceParameter)
            .WithParameter(WorkflowIdParameter)
            .WithMetadata(new ProducesResponseTypeAttribute(typeof(string), StatusCodes.Status200OK, "text/event-stream")
            {
                Description = "The event stream: `id:`/`data:` frames of CloudEvents, `: heartbeat` comments, and "
                    + "`event: closed` when the server ends a stream that fell behind.",
            })
            .ProducesValidationProblem()
            .WithResponseExample(
                "retry: 2000\n: connected\n\nid: 44\ndata: {\"specversion\":\"1.0\",\"id\":\"44\",\"source\":"
                + "\"/workflows/training-8f14e45fceea4167a5a36dedd4bea254\",\"type\":\"MODEL_ACTIVATED\",\"subject\":"
                + "\"churn/1.2.0\",\"time\":\"2026-11-26T12:00:02.017+00:00\",\"datacontenttype\":\"application/json\","
                + "\"correlationid\":\"training-8f14e45fceea4167a5a36dedd4bea254\",\"data\":{\"model\":\"churn\","
                + "\"version\":\"1.2.0\"}}\n\n: heartbeat\n\n",
                mediaType: "text/event-stream");
    }

    /// <remarks>
    /// The parameters are bound as text and parsed here, so a malformed or repeated one is a 400 naming it (a repeated
    /// single value binds as "1,2", which does not parse); bound, they are documented and the strict query accepts them.
    /// </remarks>
    private static async Task<Ok<EventPage>> ListAsync(
        string? after,
        string? limit,
        [AsParameters] EventFilterQuery query,
        IEventModule events,
        IOptions<EventOptions> options,
        CancellationToken cancellationToken)
    {
        var afterSequence = ParseSequence(after, "after") ?? 0;
        var pageSize = ParseLimit(limit, options.Value);
        var filter = ParseFilter(query);
        return TypedResults.Ok(
            await events.ListAsync(new EventQuery(afterSequence, filter.Types, filter.Source, pageSize), cancellationToken));
    }

    private static async Task<Results<Ok<CloudEvent>, NotFound>> GetAsync(
        long sequence,
        IEventModule events,
        CancellationToken cancellationToken) =>
        await events.GetAsync(sequence, cancellationToken) is { } e ? TypedResults.Ok(e) : TypedResults.NotFound();

    /// <summary>
    /// The key (header or body) is the caller's, so it is stored scoped to the API key: publishers cannot meet each
    /// other's keys, nor the keys workflows publish with.
    /// </summary>
    private static async Task<Results<Created<CloudEvent>, Ok<CloudEvent>>> PublishAsync(
        PublishEventRequest body, HttpContext http, IEventModule events, CancellationToken cancellationToken)
    {
        var key = IdempotencyKey.Read(http, body.IdempotencyKey, "idempotencyKey");
        var published = await events.PublishAsync(body with { IdempotencyKey = key?.Scoped("api") }, cancellationToken);
        if (published.Created)
        {
            return TypedResults.Created($"/api/v1/events/{published.Event.Id}", published.Event);
        }

        return SameEvent(published.Event, body) ? TypedResults.Ok(published.Event) : throw IdempotencyKey.Conflict();
    }

    private static bool SameEvent(CloudEvent stored, PublishEventRequest request) =>
        stored.Type == request.Type && stored.Source == request.Source && stored.Subject == request.Subject
        && stored.CorrelationId == request.CorrelationId && SameData(stored.Data, request.Data);

    /// <summary>Compared as JSON values (1.0 equals 1, property order aside), with a JSON null the same as no data.</summary>
    private static bool SameData(JsonElement? stored, JsonElement? sent)
    {
        var a = stored is { ValueKind: not JsonValueKind.Null } s ? s : (JsonElement?)null;
        var b = sent is { ValueKind: not JsonValueKind.Null } t ? t : (JsonElement?)null;
        return a is { } x && b is { } y ? JsonElement.DeepEquals(x, y) : a is null && b is null;
    }

    /// <summary>A non-negative sequence number, or null when absent.</summary>
    public static long? ParseSequence(StringValues values, string field)
    {
        if (StringValues.IsNullOrEmpty(values))
        {
            return null;
        }

        if (values.Count > 1 || !long.TryParse(values[0], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
        {
            throw ModuleException.Invalid(field, $"'{values}' is not an event sequence number (a non-negative integer).");
        }

        return sequence;
    }

    private static int ParseLimit(StringValues values, EventOptions options)
    {
        if (StringValues.IsNullOrEmpty(values))
        {
            return options.DefaultPageSize;
        }

        if (values.Count > 1 || !int.TryParse(values[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var limit)
            || limit < 1 || limit > options.MaxPageSize)
        {
            throw ModuleException.Invalid("limit", $"The limit must be an integer between 1 and {options.MaxPageSize}.");
        }

        return limit;
    }

    /// <summary>The <c>type</c>, <c>source</c> and <c>workflowId</c> filters shared by history and the stream.</summary>
    public static EventFilter ParseFilter(EventFilterQuery query)
    {
        var types = EventRules.ParseTypes(query.Type ?? []);
        var source = new StringValues(query.Source);
        var workflowId = new StringValues(query.WorkflowId);
        if (source.Count > 1 || workflowId.Count > 1)
        {
            throw ModuleException.Invalid(source.Count > 1 ? "source" : "workflowId", "Give this filter at most once.");
        }

        if (!StringValues.IsNullOrEmpty(source) && !StringValues.IsNullOrEmpty(workflowId))
        {
            throw ModuleException.Invalid("workflowId", "Filter by source or by workflowId, not both.");
        }

        if (!StringValues.IsNullOrEmpty(workflowId))
        {
            var id = workflowId[0]!;
            if (id.Length > 200 || id.Any(c => c == '/' || char.IsControl(c) || char.IsWhiteSpace(c)))
            {
                throw ModuleException.Invalid(
                    "workflowId",
                    "A workflow id has at most 200 characters and no '/', spaces or control characters.");
            }

            return new EventFilter(types, $"/workflows/{id}");
        }

        if (source.Count == 1)
        {
            if (EventRules.SourceError(source[0]) is { } error)
            {
                throw ModuleException.Invalid("source", error);
            }

            return new EventFilter(types, source[0]);
        }

        return new EventFilter(types, null);
    }
}

/// <summary>
/// The <c>type</c>, <c>source</c> and <c>workflowId</c> filters, as given (checked by <see cref="EventEndpoints.ParseFilter"/>).
/// </summary>
internal readonly record struct EventFilterQuery(
    [FromQuery(Name = "type")] string[]? Type,
    [FromQuery(Name = "source")] string[]? Source,
    [FromQuery(Name = "workflowId")] string[]? WorkflowId);
