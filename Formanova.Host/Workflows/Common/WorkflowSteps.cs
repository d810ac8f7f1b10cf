using System.Text.Json;
using Formanova.Modules.Data;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Common;

/// <summary>
/// The emit and persist steps every workflow ends with, called from workflow code. They run on a token of their
/// own so that a cancelled run still records its outcome.
/// </summary>
internal static class WorkflowSteps
{
    /// <summary>Publishes an event; <paramref name="local"/> runs it as a local activity (same policy, no server round trip).</summary>
    public static Task<long> EmitAsync(StepPolicy policy, string type, object data, string? subject = null, bool local = false)
    {
        var id = Workflow.Info.WorkflowId;
        var input = new EmitInput(type, $"/workflows/{id}", $"{id}:{type}", data as JsonElement? ?? JsonSerializer.SerializeToElement(data), subject ?? id, id);
        return local
            ? Workflow.ExecuteLocalActivityAsync((CommonActivities a) => a.EmitEventAsync(input), policy.Local("emit", CancellationToken.None))
            : Workflow.ExecuteActivityAsync((CommonActivities a) => a.EmitEventAsync(input), policy.For("emit", CancellationToken.None));
    }

    public static Task<long> PersistAsync(StepPolicy policy, DateTime startedAt, ResultStatus status, string? model, string? version, JsonElement? input, JsonElement output, string? error, string step = "result", bool local = false)
    {
        var persist = new PersistInput(
            Workflow.Info.WorkflowId, step, status, new DateTimeOffset(startedAt, TimeSpan.Zero), new DateTimeOffset(Workflow.UtcNow, TimeSpan.Zero),
            model, version, input, output, error);
        return local
            ? Workflow.ExecuteLocalActivityAsync((CommonActivities a) => a.PersistResultAsync(persist), policy.Local("persist", CancellationToken.None))
            : Workflow.ExecuteActivityAsync((CommonActivities a) => a.PersistResultAsync(persist), policy.For("persist", CancellationToken.None));
    }
}
