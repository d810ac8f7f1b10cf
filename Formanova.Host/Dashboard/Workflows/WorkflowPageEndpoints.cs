using Formanova.Host.Dashboard.Access;
using Formanova.Host.Dashboard.Layout;
using Formanova.Host.Dashboard.Live;
using Formanova.Host.Dashboard.Overview;
using Formanova.Host.Temporal;
using Formanova.Host.Workflows;
using Formanova.Host.Workflows.Common;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Http.Extensions;
using Temporalio.Exceptions;

namespace Formanova.Host.Dashboard.Workflows;

/// <summary>The runs list, a run's page with its live region, and its actions.</summary>
internal static class WorkflowPageEndpoints
{
    private const int PageSize = 25;

    public static IEndpointRouteBuilder MapWorkflowPages(this IEndpointRouteBuilder ui)
    {
        ui.MapGet("/workflows", ListAsync);
        ui.MapGet("/workflows/{id}", ShowAsync);
        ui.MapGet("/live/workflows/{id}", Live);
        ui.MapPost("/workflows/{id}/actions/{action}", ActAsync).AsForm();
        return ui;
    }

    private static async Task<IResult> ListAsync(
        HttpContext http,
        string? type,
        string? status,
        string? pageToken,
        WorkflowGateway gateway,
        TemporalAvailability temporal,
        CancellationToken ct)
    {
        var kinds = WorkflowKinds.Listed.Select(k => (Kind: WorkflowLocations.KindOf(k.Type, ""), k.Label)).ToList();
        var chosen = WorkflowKinds.Listed.Zip(kinds).FirstOrDefault(k => k.Second.Kind == type).First.Type;
        var parsedStatus = WorkflowKinds.Statuses.Contains(status) ? status : null;
        var query = chosen is null ? WorkflowKinds.ListedTypes : $"WorkflowType = '{chosen}'";
        if (parsedStatus is not null)
        {
            query += $" AND ExecutionStatus = '{WorkflowGateway.ParseStatus(parsedStatus)}'";
        }

        IReadOnlyList<RunRow> runs = [];
        string? next = null, error = null;
        try
        {
            await temporal.EnsureReachableAsync(ct);
            var (items, token) = await gateway.ListAsync(query, pageToken, PageSize, ct);
            runs = [.. items.Select(OverviewReader.Row)];
            next = token is null
                ? null
                : DashboardPaths.Workflows + new QueryBuilder(Filters(chosen is null ? null : type, parsedStatus, token));
        }
        catch (Exception ex) when (ex is ModuleException or RpcException && !ct.IsCancellationRequested)
        {
            error = ex is ModuleException { Kind: ErrorKind.Unavailable }
                ? "The workflow engine (Temporal) is unreachable, so the runs cannot be listed at the moment."
                : ex.Message;
        }

        return DashboardPages.Page<WorkflowsPage>(new
        {
            Chrome = DashboardPages.Chrome(http, Sections.Workflows),
            Kinds = (IReadOnlyList<(string, string)>)kinds,
            Type = chosen is null ? null : type,
            Status = parsedStatus,
            Runs = runs,
            Next = next,
            Error = error,
        });
    }

    private static IEnumerable<KeyValuePair<string, string>> Filters(string? type, string? status, string token)
    {
        if (type is not null)
        {
            yield return new("type", type);
        }

        if (status is not null)
        {
            yield return new("status", status);
        }

        yield return new("pageToken", token);
    }

    private static async Task<IResult> ShowAsync(string id, string? done, HttpContext http, WorkflowReader reader, CancellationToken ct)
    {
        var (model, problem) = await ReadAsync(http, reader, id, ct);
        if (model is null)
        {
            return problem!;
        }

        var label = WorkflowActions.For(model.WorkflowType).FirstOrDefault(a => a.Name == done)?.Label;
        return RunPage(http, model, label is null ? null : $"{label}: sent.", bad: false, StatusCodes.Status200OK);
    }

    /// <summary>
    /// The run's live region, shared by the viewers who hold the same scopes (their actions are the same); it ends with the
    /// run's last state once the run has closed.
    /// </summary>
    private static Task Live(string id, HttpContext http, LiveFeeds feeds, WorkflowReader reader, FragmentRenderer renderer)
    {
        var held = ApiScopes.All.Where(scope => DashboardViewer.HasScope(http.User, scope)).ToList();
        var key = $"workflow:{id}:{string.Join(',', held)}";
        return LiveStream.RunAsync(http, feeds.Subscribe(key, async ct =>
        {
            var model = await reader.ReadAsync(id, held.Contains, ct);
            if (model is null)
            {
                return new LiveFrame("<p class=\"error\">This run no longer exists.</p>", Final: true);
            }

            var html = await renderer.RenderAsync<WorkflowLive>(new Dictionary<string, object?> { ["Model"] = model });
            return new LiveFrame(html, model.Closed);
        }));
    }

    /// <summary>
    /// Runs an action as its API endpoint would, once the key is known to hold that endpoint's scope; back to the run's page
    /// with what happened. A refusal (a closed run, a decision already taken, a value out of range) is shown on the page.
    /// </summary>
    private static async Task<IResult> ActAsync(
        string id,
        string action,
        HttpContext http,
        WorkflowGateway gateway,
        TemporalAvailability temporal,
        ActionScopes scopes,
        WorkflowReader reader,
        CancellationToken ct)
    {
        var form = await http.Request.ReadFormAsync(ct);
        string workflowType;
        try
        {
            await temporal.EnsureReachableAsync(ct);
            workflowType = (await gateway.DescribeAnyAsync(id, ct)).WorkflowType;
        }
        catch (ModuleException ex)
        {
            return DashboardPages.Problem(http, ex);
        }

        var candidate = WorkflowActions.For(workflowType).FirstOrDefault(a => a.Name == action);
        if (candidate is null)
        {
            return DashboardPages.Message(
                http,
                StatusCodes.Status404NotFound,
                "No such action",
                $"A {workflowType} run has no action '{action}'.");
        }

        if (scopes.Refusal(http, candidate.ApiEndpoint, candidate.Label) is { } refused)
        {
            return refused;
        }

        try
        {
            await candidate.ExecuteAsync(new ActionRequest(id, form, http, gateway, ct));
        }
        catch (ModuleException ex)
        {
            var (model, problem) = await ReadAsync(http, reader, id, ct);
            return model is null
                ? problem!
                : RunPage(http, model, $"{candidate.Label} was refused: {ex.Message}", bad: true, DashboardPages.StatusOf(ex.Kind));
        }

        return Results.Redirect($"{DashboardPaths.Workflow(id)}?done={Uri.EscapeDataString(candidate.Name)}");
    }

    private static async Task<(WorkflowModel? Model, IResult? Problem)> ReadAsync(
        HttpContext http,
        WorkflowReader reader,
        string id,
        CancellationToken ct)
    {
        try
        {
            var model = await reader.ReadAsync(id, scope => DashboardViewer.HasScope(http.User, scope), ct);
            return model is null
                ? (null, DashboardPages.Message(http, StatusCodes.Status404NotFound, "Not found", $"No workflow run has the id '{id}'."))
                : (model, null);
        }
        catch (ModuleException ex)
        {
            return (null, DashboardPages.Problem(http, ex));
        }
    }

    private static IResult RunPage(HttpContext http, WorkflowModel model, string? notice, bool bad, int status) =>
        DashboardPages.Page<WorkflowPage>(
            new { Chrome = DashboardPages.Chrome(http, Sections.Workflows), Model = model, Notice = notice, NoticeBad = bad },
            status);
}
