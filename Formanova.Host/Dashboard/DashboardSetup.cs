using Formanova.Host.Dashboard.Access;
using Formanova.Host.Dashboard.Assets;
using Formanova.Host.Dashboard.Datasets;
using Formanova.Host.Dashboard.Events;
using Formanova.Host.Dashboard.Layout;
using Formanova.Host.Dashboard.Live;
using Formanova.Host.Dashboard.Models;
using Formanova.Host.Dashboard.Overview;
using Formanova.Host.Dashboard.Workflows;
using Formanova.Host.Temporal;
using Formanova.Modules.Shared;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Dashboard;

/// <summary>
/// The browser dashboard at <c>/ui</c> (docs/dashboard.md): Razor components rendered on the server by minimal-API
/// endpoints, a session cookie obtained with an API key, and live regions fed by Server-Sent Events.
/// </summary>
internal static class DashboardSetup
{
    public static IServiceCollection AddFormanovaDashboard(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<DashboardOptions, DashboardOptionsValidator>(configuration, DashboardOptions.SectionName);
        services.AddRazorComponents();
        services.AddDashboardAuthentication();
        services.AddSingleton<LiveFeeds>();
        services.AddSingleton<FragmentRenderer>();
        services.AddSingleton<OverviewReader>();
        services.AddSingleton<PredictionStats>();
        services.AddSingleton<WorkflowReader>();
        services.AddSingleton<ActionScopes>();
        services.AddSingleton<EventTailReader>();
        services.AddHostedService(sp => sp.GetRequiredService<PredictionStats>());
        return services;
    }

    /// <summary>Maps <c>/ui</c> on processes with the api role, unless Dashboard:Enabled is false.</summary>
    public static IEndpointRouteBuilder MapFormanovaDashboard(this IEndpointRouteBuilder endpoints)
    {
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<DashboardOptions>>().Value;
        var configuration = endpoints.ServiceProvider.GetRequiredService<IConfiguration>();
        if (!options.Enabled || !TemporalSetup.HasRole(configuration, "api"))
        {
            return endpoints;
        }

        // Every page needs a session whose key has the read scope, unless it says otherwise (sign-in, assets).
        var ui = endpoints.MapGroup(DashboardPaths.Root)
            .ExcludeFromDescription()
            .AddEndpointFilter<DashboardHeaders>()
            .RequireAuthorization(DashboardAuthentication.ReadPolicy);
        ui.MapDashboardAssets();
        ui.MapSignIn();
        ui.MapOverview();
        ui.MapWorkflowPages();
        ui.MapModelPages();
        ui.MapDatasetPages(options.MaxUploadBytes);
        ui.MapEventPages();
        ui.MapGet("/{**path}", (HttpContext http) => DashboardPages.Message(
            http,
            StatusCodes.Status404NotFound,
            "Not found",
            "There is no dashboard page at this address."));
        return endpoints;
    }
}
