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
    public static void Map(IEndpointRouteBuilder api)
    {
        var events = api.MapGroup("/events").WithTags("Events");
        events.MapGet("/", ListAsync).WithName("ListEvents");
        events.MapGet("/{sequence:long}", GetAsync).WithName("GetEvent");
        events.MapPost("/", PublishAsync).WithName("PublishEvent").WithIdempotencyKey();
        events.MapGet("/stream", EventStream.RunAsync).WithName("StreamEvents")
            .Produces<string>(StatusCodes.Status200OK, "text/event-stream");
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
