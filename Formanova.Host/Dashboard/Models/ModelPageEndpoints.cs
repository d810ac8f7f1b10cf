using System.Globalization;
using Formanova.Host.Dashboard.Layout;
using Formanova.Host.Dashboard.Workflows;
using Formanova.Host.Workflows;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Host.Dashboard.Models;

/// <summary>The models list, a model's versions, a version with its report, actions and "try it", and two versions compared.</summary>
internal static class ModelPageEndpoints
{
    /// <summary>The prefix of the "try it" form's input fields (<c>in.tenure_months</c>), apart from the token's field.</summary>
    private const string InputPrefix = "in.";

    public static IEndpointRouteBuilder MapModelPages(this IEndpointRouteBuilder ui)
    {
        ui.MapGet("/models", ListAsync);
        ui.MapGet("/models/{name}", ShowModelAsync);
        ui.MapGet("/models/{name}/compare", CompareAsync);
        ui.MapGet("/models/{name}/versions/{version}", ShowVersionAsync);
        ui.MapPost("/models/{name}/versions/{version}/actions/{action}", ActAsync).AsForm();
        ui.MapPost("/models/{name}/versions/{version}/try", TryAsync).AsForm();
        return ui;
    }

    private static async Task<IResult> ListAsync(HttpContext http, IModelModule models, CancellationToken ct)
    {
        IReadOnlyList<ModelSummary> list = [];
        string? error = null;
        try
        {
            list = await models.ListModelsAsync(ct);
        }
        catch (ModuleException ex)
        {
            error = $"The model registry could not be read: {ex.Message}";
        }

        return DashboardPages.Page<ModelsPage>(new { Chrome = DashboardPages.Chrome(http, Sections.Models), Models = list, Error = error });
    }

    private static async Task<IResult> ShowModelAsync(
        string name,
        HttpContext http,
        IModelModule models,
        IModelMonitoringModule monitoring,
        CancellationToken ct)
    {
        try
        {
            var model = await models.GetModelAsync(name, ct);
            // The latest monitoring check, if the model is monitored (docs/monitoring.md).
            var latest = await monitoring.ListChecksAsync(model.Name, DateTimeOffset.MinValue, DateTimeOffset.UtcNow.AddSeconds(1), 1, ct);
            return DashboardPages.Page<ModelPage>(new
            {
                Chrome = DashboardPages.Chrome(http, Sections.Models),
                Model = model,
                Monitoring = latest.Count > 0 ? latest[0] : null,
            });
        }
        catch (ModuleException ex)
        {
            return DashboardPages.Problem(http, ex);
        }
    }

    private static async Task<IResult> CompareAsync(
        string name,
        string? a,
        string? b,
        HttpContext http,
        IModelModule models,
        CancellationToken ct)
    {
        try
        {
            var first = await models.GetVersionAsync(name, a ?? "", ct);
            var second = await models.GetVersionAsync(name, b ?? "", ct);
            return DashboardPages.Page<ComparePage>(new { Chrome = DashboardPages.Chrome(http, Sections.Models), A = first, B = second });
        }
        catch (ModuleException ex)
        {
            return DashboardPages.Problem(http, ex);
        }
    }

    private static async Task<IResult> ShowVersionAsync(
        string name,
        string version,
        string? done,
        HttpContext http,
        IModelModule models,
        ActionScopes scopes,
        CancellationToken ct)
    {
        var label = ModelActions.All.FirstOrDefault(a => a.Name == done)?.Label;
        return await VersionPageAsync(http, models, scopes, name, version, label is null ? null : $"{label}: done.", bad: false, ct);
    }

    /// <summary>
    /// Runs a version's action as its API endpoint would, once the key is known to hold that endpoint's scope. A promotion
    /// goes on to its saga's page; the rest come back to the version with a notice, or with the refusal.
    /// </summary>
    private static async Task<IResult> ActAsync(
        string name,
        string version,
        string action,
        HttpContext http,
        IModelModule models,
        WorkflowGateway gateway,
        ActionScopes scopes,
        CancellationToken ct)
    {
        var candidate = ModelActions.All.FirstOrDefault(a => a.Name == action);
        if (candidate is null)
        {
            return DashboardPages.Message(
                http,
                StatusCodes.Status404NotFound,
                "No such action",
                $"A model version has no action '{action}'.");
        }

        if (scopes.Refusal(http, candidate.ApiEndpoint, candidate.Label) is { } refused)
        {
            return refused;
        }

        var form = await http.Request.ReadFormAsync(ct);
        try
        {
            var next = await candidate.ExecuteAsync(new ModelActionRequest(name, version, form, http, models, gateway, ct));
            return Results.Redirect(next ?? $"{DashboardPaths.Version(name, version)}?done={Uri.EscapeDataString(candidate.Name)}");
        }
        catch (ModuleException ex)
        {
            var notice = $"{candidate.Label} was refused: {ex.Message}";
            return await VersionPageAsync(http, models, scopes, name, version, notice, bad: true, ct, DashboardPages.StatusOf(ex.Kind));
        }
    }

    /// <summary>Predicts one row typed into the form, with this version and without the cache, as <c>POST .../predict</c> does.</summary>
    private static async Task<IResult> TryAsync(
        string name,
        string version,
        HttpContext http,
        IModelModule models,
        ActionScopes scopes,
        CancellationToken ct)
    {
        if (scopes.Refusal(http, ModelActions.TryEndpoint, "Try it") is { } refused)
        {
            return refused;
        }

        var form = await http.Request.ReadFormAsync(ct);
        var values = form.Keys.Where(k => k.StartsWith(InputPrefix, StringComparison.Ordinal))
            .ToDictionary(k => k[InputPrefix.Length..], k => form[k].ToString(), StringComparer.Ordinal);
        PredictionResult? result = null;
        string? error = null;
        try
        {
            var info = await models.GetVersionAsync(name, version, ct);
            var inputs = TryFields(info).ToDictionary(f => f.Name, f => Parse(f, values.GetValueOrDefault(f.Name)), StringComparer.Ordinal);
            result = await models.PredictAsync(new PredictRequest(name, inputs, Version: version, UseCache: false), ct);
        }
        catch (ModuleException ex)
        {
            error = ex.Errors.Count > 0
                ? $"{ex.Message} {string.Join(" ", ex.Errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}"))}"
                : ex.Message;
        }

        return await VersionPageAsync(
            http, models, scopes, name, version, null, bad: false, ct, values: values, result: result, error: error);
    }

    private static async Task<IResult> VersionPageAsync(
        HttpContext http,
        IModelModule models,
        ActionScopes scopes,
        string name,
        string version,
        string? notice,
        bool bad,
        CancellationToken ct,
        int status = StatusCodes.Status200OK,
        IReadOnlyDictionary<string, string>? values = null,
        PredictionResult? result = null,
        string? error = null)
    {
        ModelVersionInfo info;
        try
        {
            info = await models.GetVersionAsync(name, version, ct);
        }
        catch (ModuleException ex)
        {
            return DashboardPages.Problem(http, ex);
        }

        bool Holds(string endpoint) => scopes.Allows(http.User, endpoint);
        var actions = ModelActions.All
            .Where(a => a.Available(info) && Holds(a.ApiEndpoint))
            .Select(a => new ActionModel(a.Name, a.Label, DashboardPaths.ModelAction(name, info.Version, a.Name), a.Danger, a.Fields ?? []))
            .ToList();
        var model = new VersionModel(
            info,
            actions,
            Holds(ModelActions.TryEndpoint) && info.Status != ModelVersionStatus.Failed ? TryFields(info) : null,
            values ?? new Dictionary<string, string>(),
            result,
            error);
        return DashboardPages.Page<VersionPage>(
            new { Chrome = DashboardPages.Chrome(http, Sections.Models), Model = model, Notice = notice, NoticeBad = bad },
            status);
    }

    /// <summary>The raw columns a prediction needs: the input contract's features, or the schema's non-label columns.</summary>
    private static List<TryField> TryFields(ModelVersionInfo info) => info.Contract is { } contract
        ? [.. contract.Columns.Where(c => c.Role == InputRole.Feature).Select(c => Field(c.Name, c.Type.ToString()))]
        : [.. info.Columns.Where(c => !c.IsLabel).Select(c => Field(c.Name, c.Kind.ToString()))];

    private static TryField Field(string name, string kind) => new(name, kind switch
    {
        "Numeric" => "number",
        "Boolean" => "select",
        _ => "text",
    }, kind.ToLowerInvariant());

    /// <summary>A typed value as the API's JSON would carry it; an empty field is a missing value.</summary>
    private static object? Parse(TryField field, string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        return field.Type switch
        {
            "number" => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                ? number
                : throw ModuleException.Invalid(field.Name, $"{field.Name} must be a number."),
            "select" => text == "true",
            _ => text,
        };
    }
}
