using Formanova.Host.Dashboard.Layout;
using Formanova.Host.Dashboard.Live;
using Formanova.Host.Dashboard.Workflows;
using Formanova.Modules.Event;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Http.Extensions;

namespace Formanova.Host.Dashboard.Events;

/// <summary>The events page: a live tail of the log with filters, and the webhook deliveries with their redelivery.</summary>
internal static class EventPageEndpoints
{
    /// <summary>The API endpoints whose scopes the webhook part needs: to see the deliveries, and to redeliver one.</summary>
    public const string ListWebhooksEndpoint = "ListWebhooks";
    public const string RedeliverEndpoint = "RedeliverWebhookDelivery";

    private const int DeliveriesShown = 10;

    public static IEndpointRouteBuilder MapEventPages(this IEndpointRouteBuilder ui)
    {
        ui.MapGet("/events", ShowAsync);
        ui.MapGet("/live/events", Live);
        ui.MapPost("/events/deliveries/{deliveryId:long}/redeliver", RedeliverAsync).AsForm();
        return ui;
    }

    private static Task<IResult> ShowAsync(
        string? type,
        string? source,
        string? done,
        HttpContext http,
        EventTailReader tail,
        IEventWebhooksModule webhooks,
        ActionScopes scopes,
        CancellationToken ct) =>
        PageAsync(http, tail, webhooks, scopes, type, source, done == "redeliver" ? "Redelivery queued: it is due now." : null, ct);

    /// <summary>The tail's live region, shared by every page with the same filter.</summary>
    private static Task Live(
        string? type,
        string? source,
        HttpContext http,
        LiveFeeds feeds,
        EventTailReader tail,
        FragmentRenderer renderer)
    {
        var (t, s) = (Blank(type), Blank(source));
        return LiveStream.RunAsync(http, feeds.Subscribe($"events:{t}:{s}", async ct => new LiveFrame(
            await renderer.RenderAsync<EventTail>(new Dictionary<string, object?> { ["Model"] = await tail.ReadAsync(t, s, ct) }))));
    }

    /// <summary>Puts a delivery back to pending, due now, as <c>POST /api/v1/events/deliveries/{id}/redeliver</c> does.</summary>
    private static async Task<IResult> RedeliverAsync(
        long deliveryId,
        HttpContext http,
        IEventWebhooksModule webhooks,
        ActionScopes scopes,
        CancellationToken ct)
    {
        if (scopes.Refusal(http, RedeliverEndpoint, "Redeliver") is { } refused)
        {
            return refused;
        }

        try
        {
            await webhooks.RedeliverAsync(deliveryId, ct);
        }
        catch (ModuleException ex)
        {
            return DashboardPages.Problem(http, ex);
        }

        return Results.Redirect($"{DashboardPaths.Events}?done=redeliver#webhooks-heading");
    }

    private static async Task<IResult> PageAsync(
        HttpContext http,
        EventTailReader reader,
        IEventWebhooksModule webhooks,
        ActionScopes scopes,
        string? type,
        string? source,
        string? notice,
        CancellationToken ct)
    {
        var (t, s) = (Blank(type), Blank(source));
        var tail = await reader.ReadAsync(t, s, ct);
        bool Holds(string endpoint) => scopes.Allows(http.User, endpoint);
        List<WebhookRow>? rows = null;
        string? error = null;
        if (Holds(ListWebhooksEndpoint))
        {
            rows = [];
            try
            {
                foreach (var webhook in await webhooks.ListWebhooksAsync(ct))
                {
                    rows.Add(new WebhookRow(webhook, await webhooks.ListDeliveriesAsync(webhook.Id, null, DeliveriesShown, ct)));
                }
            }
            catch (ModuleException ex)
            {
                error = $"The webhooks could not be read: {ex.Message}";
            }
        }

        var query = new QueryBuilder();
        if (t is not null)
        {
            query.Add("type", t);
        }

        if (s is not null)
        {
            query.Add("source", s);
        }

        return DashboardPages.Page<EventsPage>(new
        {
            Chrome = DashboardPages.Chrome(http, Sections.Events),
            Tail = tail,
            LiveUrl = $"{DashboardPaths.Live}/events{query}",
            Webhooks = (IReadOnlyList<WebhookRow>?)rows,
            WebhooksError = error,
            CanRedeliver = Holds(RedeliverEndpoint),
            Notice = notice,
        });
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
