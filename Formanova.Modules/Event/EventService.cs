using Formanova.Modules.Event.Log;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Event;

internal sealed class EventService(
    EventAppender appender,
    EventStore store,
    IOptions<EventOptions> options,
    TimeProvider time) : IEventModule
{
    // Publishers that give no key still need a unique one (the column is the dedup index); the prefix cannot
    // collide with a caller's key because validation refuses control characters.
    private const string GeneratedKeyPrefix = "\u0001";

    public async Task<PublishEventResult> PublishAsync(PublishEventRequest request, CancellationToken cancellationToken = default)
    {
        var data = EventRules.Validate(request, options.Value.MaxDataBytes);
        var pending = new PendingEvent(
            request.IdempotencyKey ?? GeneratedKeyPrefix + Guid.NewGuid().ToString("N"),
            request.Type,
            request.Source,
            request.Subject,
            time.GetUtcNow(),
            request.CorrelationId,
            data,
            request.DataRef);
        var (row, created) = await appender.AppendAsync(pending, cancellationToken);
        return new PublishEventResult(LoggedEvent.ToCloudEvent(row), created);
    }

    public async Task<CloudEvent?> GetAsync(long sequence, CancellationToken cancellationToken = default) =>
        await store.GetAsync(sequence, cancellationToken) is { } row ? LoggedEvent.ToCloudEvent(row) : null;

    public async Task<EventPage> ListAsync(EventQuery query, CancellationToken cancellationToken = default)
    {
        var max = options.Value.MaxPageSize;
        if (query.Limit < 1 || query.Limit > max)
        {
            throw ModuleException.Invalid("limit", $"The limit must be between 1 and {max}.");
        }

        if (query.After < 0)
        {
            throw ModuleException.Invalid("after", "The after sequence must be zero or positive.");
        }

        var types = EventRules.ParseTypes(query.Types ?? []);
        if (query.Source is not null && EventRules.SourceError(query.Source) is { } sourceError)
        {
            throw ModuleException.Invalid("source", sourceError);
        }

        var rows = await store.ReadAfterAsync(query.After, new EventFilter(types, query.Source), query.Limit, null, cancellationToken);
        var items = rows.Select(LoggedEvent.ToCloudEvent).ToList();
        return new EventPage(items, rows.Count == query.Limit ? rows[^1].Id : null);
    }

    public Task<long> LatestSequenceAsync(CancellationToken cancellationToken = default) => store.MaxIdAsync(cancellationToken);
}
