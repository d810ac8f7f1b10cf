using Formanova.Host.Dashboard.Workflows;
using Formanova.Host.Workflows;
using Formanova.Host.Workflows.Api;
using Formanova.Modules.Model;

namespace Formanova.Host.Dashboard.Models;

/// <summary>What a model action is run with: the version, the posted form, and the request.</summary>
internal sealed record ModelActionRequest(
    string Model,
    string Version,
    IFormCollection Form,
    HttpContext Http,
    IModelModule Models,
    WorkflowGateway Gateway,
    CancellationToken Ct);

/// <summary>
/// A button on a version's page: what its API endpoint <see cref="ApiEndpoint"/> does, with that endpoint's scope
/// (<see cref="ActionScopes"/>). <see cref="ExecuteAsync"/> returns where to go next, or null for the version's page.
/// </summary>
internal sealed record ModelAction(
    string Name,
    string Label,
    string ApiEndpoint,
    Func<ModelVersionInfo, bool> Available,
    Func<ModelActionRequest, Task<string?>> ExecuteAsync,
    bool Danger = false,
    IReadOnlyList<ActionField>? Fields = null);

internal static class ModelActions
{
    /// <summary>The API endpoint whose scope the "try it" form needs.</summary>
    public const string TryEndpoint = "Predict";

    public static readonly IReadOnlyList<ModelAction> All =
    [
        new("promote", "Promote", "PromoteModelVersion", Inactive, async r =>
            DashboardPaths.Workflow(await PromotionEndpoints.PromoteAsync(r.Model, r.Version, null, r.Http, r.Gateway, r.Models, r.Ct))),
        new("activate", "Activate now", "ActivateModelVersion", Inactive, async r =>
        {
            await r.Models.ActivateAsync(r.Model, r.Version, r.Ct);
            return null;
        }),
        new("alias", "Set alias", "SetModelAlias", v => v.Status != ModelVersionStatus.Failed, async r =>
            {
                await r.Models.SetAliasAsync(r.Model, r.Form["alias"].ToString().Trim(), r.Version, r.Ct);
                return null;
            },
            Fields: [new("alias", "Alias", "text", Max: "64")]),
        new("archive", "Archive", "ArchiveModelVersion", v => v.Status == ModelVersionStatus.Registered, async r =>
            {
                await r.Models.ArchiveAsync(r.Model, r.Version, r.Ct);
                return null;
            },
            Danger: true),
    ];

    private static bool Inactive(ModelVersionInfo version) =>
        version.Status is ModelVersionStatus.Registered or ModelVersionStatus.Archived;
}
