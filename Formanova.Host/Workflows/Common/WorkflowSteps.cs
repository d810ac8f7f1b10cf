using System.Text.Json;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Common;

/// <summary>
/// The emit and persist steps every workflow ends with, called from workflow code. They run on a token of their
/// own so that a cancelled run still records its outcome.
/// </summary>
internal static class WorkflowSteps
{
    /// <summary>
    /// Publishes an event; <paramref name="local"/> runs it as a local activity (same policy, no server round trip).
    /// </summary>
    public static Task<long> EmitAsync(StepPolicy policy, string type, object data, string? subject = null, bool local = false)
    {
        var input = Emit(type, data, subject);
        return local
            ? Workflow.ExecuteLocalActivityAsync(
                (CommonActivities a) => a.EmitEventAsync(input),
                policy.Local(t => t.Emit, CancellationToken.None))
            : Workflow.ExecuteActivityAsync(
                (CommonActivities a) => a.EmitEventAsync(input),
                policy.For(t => t.Emit, CancellationToken.None));
    }

    public static Task<long> PersistAsync(
        StepPolicy policy,
        DateTime startedAt,
        ResultStatus status,
        string? model,
        string? version,
        JsonElement? input,
        JsonElement output,
        string? error,
        string step = "result")
    {
        var persist = Persist(startedAt, status, model, version, input, output, error, step);
        return Workflow.ExecuteActivityAsync(
            (CommonActivities a) => a.PersistResultAsync(persist),
            policy.For(t => t.Persist, CancellationToken.None));
    }

    /// <summary>A run's closing steps after success: its stored result, then WORKFLOW_COMPLETED, as regular activities.</summary>
    public static async Task CloseSucceededAsync(
        StepPolicy policy,
        DateTime startedAt,
        string? model,
        string? version,
        JsonElement output,
        object completedEvent)
    {
        await PersistAsync(policy, startedAt, ResultStatus.Succeeded, model, version, null, output, null);
        await EmitAsync(policy, IEventModule.WorkflowCompleted, completedEvent);
    }

    /// <summary>
    /// A run's closing steps after a failure or cancellation (<see cref="RunFailure"/>): its stored result, then
    /// WORKFLOW_FAILED with the same <paramref name="output"/>, as regular activities.
    /// </summary>
    public static async Task CloseFailedAsync(
        StepPolicy policy,
        DateTime startedAt,
        RunFailure failure,
        string? model,
        string? version,
        JsonElement output)
    {
        await PersistAsync(policy, startedAt, failure.Status, model, version, null, output, failure.Error.Message);
        await EmitAsync(policy, IEventModule.WorkflowFailed, output);
    }

    /// <summary>
    /// The stored result and then the closing events in one step (persist_and_emit): a local activity, or with
    /// <paramref name="local"/> false a regular one, since a local activity holds the workflow task open and an update
    /// the run completed just before would only be answered after it.
    /// </summary>
    public static Task<long> FinishAsync(
        bool local,
        StepPolicy policy,
        DateTime startedAt,
        ResultStatus status,
        string? model,
        string? version,
        JsonElement? input,
        JsonElement output,
        string? error,
        params (string Type, object Data)[] events)
    {
        var finish = new FinishInput(
            Persist(startedAt, status, model, version, input, output, error, "result"),
            [.. events.Select(e => Emit(e.Type, e.Data, null))]);
        return local
            ? Workflow.ExecuteLocalActivityAsync(
                (CommonActivities a) => a.PersistAndEmitAsync(finish),
                policy.Local(t => t.Persist, CancellationToken.None))
            : Workflow.ExecuteActivityAsync(
                (CommonActivities a) => a.PersistAndEmitAsync(finish),
                policy.For(t => t.Persist, CancellationToken.None));
    }

    private static EmitInput Emit(string type, object data, string? subject)
    {
        var id = Workflow.Info.WorkflowId;
        // The run's own resource holds its full result, so an event too large for the log points there instead of
        // failing the run after its work is done.
        return new EmitInput(
            type,
            $"/workflows/{id}",
            $"{id}:{type}",
            data as JsonElement? ?? WorkflowJson.Element(data),
            subject ?? id,
            id,
            WorkflowLocations.PathOf(Workflow.Info.WorkflowType, id));
    }

    private static PersistInput Persist(
        DateTime startedAt,
        ResultStatus status,
        string? model,
        string? version,
        JsonElement? input,
        JsonElement output,
        string? error,
        string step) =>
        new(
            Workflow.Info.WorkflowId,
            step,
            status,
            new DateTimeOffset(startedAt, TimeSpan.Zero),
            new DateTimeOffset(Workflow.UtcNow, TimeSpan.Zero),
            model,
            version,
            input,
            output,
            error);
}
