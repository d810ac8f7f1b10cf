namespace Formanova.Host.Dashboard.Workflows;

/// <summary>
/// A run as its page shows it: what Temporal's description says, its stage and progress from its status query (as
/// <c>GET /api/v1/jobs/{id}</c> reads them), its error history, its timeline, and the actions this viewer may take now.
/// </summary>
public sealed record WorkflowModel(
    string Id,
    string WorkflowType,
    string Kind,
    string Status,
    string? Stage,
    double? ProgressPercent,
    bool Paused,
    DateTime StartedAt,
    DateTime? ClosedAt,
    string? Error,
    IReadOnlyList<ErrorLine> Errors,
    string ApiPath,
    string? StatusError,
    TimelineModel? Timeline,
    string? TimelineError,
    IReadOnlyList<ActionModel> Actions)
{
    public bool Closed => Status is not ("running" or "paused");
}

/// <summary>One entry of a run's error history.</summary>
public sealed record ErrorLine(DateTime At, string Stage, string Type, string Message, bool Handled);

/// <summary>A button (and its fields) a viewer may use on the run now; it posts to <paramref name="Url"/>.</summary>
public sealed record ActionModel(string Name, string Label, string Url, bool Danger, IReadOnlyList<ActionField> Fields);

/// <summary>A field of an action's form: a number, a text or a choice (<paramref name="Options"/>, "" for "keep as is").</summary>
public sealed record ActionField(
    string Name,
    string Label,
    string Type,
    string? Min = null,
    string? Max = null,
    string? Step = null,
    IReadOnlyList<string>? Options = null);
