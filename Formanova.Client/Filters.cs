namespace Formanova.Client;

/// <summary>The filters shared by the event history (<c>GET /api/v1/events</c>) and the live stream.</summary>
/// <param name="Types">Event types to keep; a trailing <c>*</c> matches a prefix (<c>formanova.job.*</c>).</param>
/// <param name="Source">Only events of this CloudEvents source.</param>
/// <param name="WorkflowId">Only events of this workflow (the source <c>/workflows/{id}</c>); not with Source.</param>
/// <param name="After">Start after this sequence number (the stream replays from there before going live).</param>
public sealed record EventFilter(
    IReadOnlyList<string>? Types = null,
    string? Source = null,
    string? WorkflowId = null,
    long? After = null);

/// <summary>The filters of <c>GET /api/v1/results</c>.</summary>
public sealed record ResultFilter(
    string? JobId = null,
    string? Model = null,
    DateTimeOffset? From = null,
    DateTimeOffset? To = null);

/// <summary>One event received from <c>GET /api/v1/events/stream</c>.</summary>
/// <param name="Sequence">The event's position in the log: the SSE <c>id</c>, sent back as <c>Last-Event-ID</c>.</param>
/// <param name="Event">The CloudEvent.</param>
/// <param name="Json">The CloudEvent as the server wrote it.</param>
public sealed record StreamedEvent(long Sequence, Generated.Models.CloudEvent Event, string Json);
