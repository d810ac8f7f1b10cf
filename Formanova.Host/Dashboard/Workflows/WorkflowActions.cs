using System.Collections.Frozen;
using System.Globalization;
using Formanova.Host.Security;
using Formanova.Host.Workflows;
using Formanova.Host.Workflows.Api;
using Formanova.Host.Workflows.Batch;
using Formanova.Host.Workflows.Processing;
using Formanova.Host.Workflows.Training;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Host.Dashboard.Workflows;

/// <summary>A run's state as far as its buttons care: its status (paused counts), its stage, and whether it is paused.</summary>
internal sealed record RunState(string Status, string? Stage, bool Paused)
{
    public bool Open => Status is "running" or "paused";
}

/// <summary>What an action is run with: the run, the posted form, and the request (its user names who asked).</summary>
internal sealed record ActionRequest(string Id, IFormCollection Form, HttpContext Http, WorkflowGateway Gateway, CancellationToken Ct);

/// <summary>
/// A button on a run's page. It does what the API endpoint <see cref="ApiEndpoint"/> does, through the same handler or the
/// same gateway call, and needs the scope that endpoint needs (<see cref="ActionScopes"/>), so the page can neither show
/// nor do more than the API would let the same key do.
/// </summary>
internal sealed record WorkflowAction(
    string Name,
    string Label,
    string ApiEndpoint,
    Func<RunState, bool> Available,
    Func<ActionRequest, Task> ExecuteAsync,
    bool Danger = false,
    IReadOnlyList<ActionField>? Fields = null);

/// <summary>Every run kind's actions, as the workflows support them (docs/workflows.md).</summary>
internal static class WorkflowActions
{
    private static readonly IReadOnlyList<ActionField> ParamFields =
    [
        new("decisionThreshold", "Decision threshold (0–1)", "number", Min: "0", Max: "1", Step: "0.01"),
        new("roundDigits", "Round to digits (0–15)", "number", Min: "0", Max: "15", Step: "1"),
        new("useCache", "Use the cache", "select", Options: ["", "true", "false"]),
    ];

    private static readonly IReadOnlyList<ActionField> ReasonField = [new("reason", "Reason (optional)", "text", Max: "500")];

    private static readonly IReadOnlyList<WorkflowAction> Processing =
    [
        new("pause", "Pause", "PauseJob", s => s.Status == "running" && !s.Paused,
            r => r.Gateway.SignalRunAsync<ProcessingWorkflow>(r.Id, wf => wf.PauseAsync(), r.Ct)),
        new("resume", "Resume", "ResumeJob", s => s.Open && s.Paused,
            r => r.Gateway.SignalRunAsync<ProcessingWorkflow>(r.Id, wf => wf.ResumeAsync(), r.Ct)),
        new("params", "Change parameters", "UpdateJobParams", s => s.Open, ChangeParamsAsync, Fields: ParamFields),
        new("cancel", "Cancel", "CancelJob", s => s.Open,
            r => ProcessingEndpoints.SendCancelAsync(r.Id, Text(r.Form, "reason"), By(r), r.Gateway, r.Ct),
            Danger: true,
            Fields: ReasonField),
    ];

    private static readonly IReadOnlyList<WorkflowAction> Training =
    [
        new("approve", "Approve", "ApproveTrainingRun", AwaitingApproval,
            r => TrainingEndpoints.DecideAsync(r.Gateway, r.Id, wf => wf.ApproveAsync(new ApprovalDecision(By(r), null)), r.Ct)),
        new("reject", "Reject", "RejectTrainingRun", AwaitingApproval,
            r => TrainingEndpoints.DecideAsync(r.Gateway, r.Id, wf => wf.RejectAsync(new ApprovalDecision(By(r), null)), r.Ct),
            Danger: true),
        new("cancel", "Cancel", "CancelTrainingRun", s => s.Open,
            r => r.Gateway.CancelAsync<ModelTrainingWorkflow>(r.Id, r.Ct), Danger: true),
    ];

    private static readonly IReadOnlyList<WorkflowAction> Batch =
    [
        new("pause", "Pause", "PauseBatchJob", s => s.Open && !s.Paused,
            r => r.Gateway.SignalRunAsync<BatchInferenceWorkflow>(r.Id, wf => wf.PauseAsync(), r.Ct)),
        new("resume", "Resume", "ResumeBatchJob", s => s.Open && s.Paused,
            r => r.Gateway.SignalRunAsync<BatchInferenceWorkflow>(r.Id, wf => wf.ResumeAsync(), r.Ct)),
        new("cancel", "Cancel", "CancelBatchJob", s => s.Open,
            r => r.Gateway.CancelAsync<BatchInferenceWorkflow>(r.Id, r.Ct), Danger: true),
    ];

    /// <summary>The actions of a workflow type (none for promotions and internal runs).</summary>
    public static IReadOnlyList<WorkflowAction> For(string workflowType) => workflowType switch
    {
        nameof(ProcessingWorkflow) => Processing,
        nameof(ModelTrainingWorkflow) => Training,
        nameof(BatchInferenceWorkflow) => Batch,
        _ => [],
    };

    private static bool AwaitingApproval(RunState state) => state.Status == "running" && state.Stage == "awaiting-approval";

    private static string? By(ActionRequest request) => request.Http.User.Identity?.Name;

    private static string? Text(IFormCollection form, string name) =>
        form[name].ToString() is { Length: > 0 } value ? value.Trim() : null;

    private static Task ChangeParamsAsync(ActionRequest r)
    {
        var change = new ProcessingParamsChange(
            Number<double>(r.Form, "decisionThreshold", double.TryParse),
            Number<int>(r.Form, "roundDigits", int.TryParse),
            Text(r.Form, "useCache") switch
            {
                null => null,
                "true" => true,
                "false" => false,
                _ => throw ModuleException.Invalid("useCache", "useCache must be true or false."),
            });
        if (change is { DecisionThreshold: null, RoundDigits: null, UseCache: null })
        {
            throw ModuleException.Invalid("params", "Give at least one parameter to change.");
        }

        if (change.Check() is { Count: > 0 } errors)
        {
            throw new ModuleException(ErrorKind.Invalid, string.Join(" ", errors.Values.SelectMany(e => e)), errors);
        }

        return r.Gateway.UpdateAsync<ProcessingWorkflow, ProcessingStatus>(r.Id, wf => wf.SetParamsAsync(change), r.Ct);
    }

    private delegate bool Parse<T>(string text, NumberStyles styles, IFormatProvider provider, out T value);

    private static T? Number<T>(IFormCollection form, string name, Parse<T> parse) where T : struct
    {
        if (Text(form, name) is not { } text)
        {
            return null;
        }

        return parse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw ModuleException.Invalid(name, $"{name} must be a number.");
    }
}

/// <summary>
/// The scope each action needs: the one the API endpoint it mirrors was given (ScopeRequirementMetadata, set by
/// RequireApiScopes), read from the routing table once. An endpoint that is not there leaves its action with no scope,
/// and so unavailable to everyone.
/// </summary>
internal sealed class ActionScopes(EndpointDataSource endpoints)
{
    private readonly Lazy<FrozenDictionary<string, string>> _byEndpoint = new(() => endpoints.Endpoints
        .Select(e => (
            Name: e.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName,
            e.Metadata.GetMetadata<ScopeRequirementMetadata>()?.Scope))
        .Where(e => e.Name is not null && e.Scope is not null)
        .DistinctBy(e => e.Name)
        .ToFrozenDictionary(e => e.Name!, e => e.Scope!, StringComparer.Ordinal));

    public string? Of(WorkflowAction action) => Of(action.ApiEndpoint);

    /// <summary>The scope of the API endpoint named <paramref name="endpointName"/> (its <c>WithName</c>), or null.</summary>
    public string? Of(string endpointName) => _byEndpoint.Value.GetValueOrDefault(endpointName);

    /// <summary>Whether the signed-in key holds the scope of the API endpoint named <paramref name="endpointName"/>.</summary>
    public bool Allows(System.Security.Claims.ClaimsPrincipal user, string endpointName) =>
        Of(endpointName) is { } scope && Access.DashboardViewer.HasScope(user, scope);

    /// <summary>
    /// Null when the key may do <paramref name="action"/> (it holds the scope of <paramref name="endpointName"/>); otherwise
    /// the 403 page that says which scope it needs, and nothing is done.
    /// </summary>
    public IResult? Refusal(HttpContext http, string endpointName, string action) =>
        Allows(http.User, endpointName) ? null : Layout.DashboardPages.Forbidden(http, action, Of(endpointName));
}
