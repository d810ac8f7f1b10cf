using Formanova.Host.Dashboard.Layout;
using Formanova.Host.Dashboard.Live;

namespace Formanova.Host.Dashboard.Overview;

/// <summary>The overview page and its live region.</summary>
internal static class OverviewEndpoints
{
    public const string LiveKey = "overview";

    public static IEndpointRouteBuilder MapOverview(this IEndpointRouteBuilder ui)
    {
        ui.MapGet("", async (HttpContext http, OverviewReader reader, CancellationToken ct) => DashboardPages.Page<OverviewPage>(
            new { Chrome = DashboardPages.Chrome(http, Sections.Overview), Model = await reader.ReadAsync(ct) }));
        ui.MapGet("/live/overview", (HttpContext http, LiveFeeds feeds, OverviewReader reader, FragmentRenderer renderer) =>
            LiveStream.RunAsync(http, feeds.Subscribe(LiveKey, async ct => new LiveFrame(
                await renderer.RenderAsync<OverviewPanels>(new Dictionary<string, object?> { ["Model"] = await reader.ReadAsync(ct) })))));
        return ui;
    }
}
