using System.Text.Json;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Temporalio.Activities;

namespace Formanova.Host.Workflows.Common;

/// <summary>An event to publish; the idempotency key makes a retried emit store it once.</summary>
/// <remarks>DataRef is where the full data is read if it is too large for the event log (then the event holds a summary).</remarks>
public sealed record EmitInput(
    string Type, string Source, string IdempotencyKey, JsonElement? Data = null, string? Subject = null, string? CorrelationId = null,
    string? DataRef = null);

/// <summary>A step result to store; idempotent by (JobId, Step) in the Data module.</summary>
public sealed record PersistInput(
    string JobId,
    string Step,
    ResultStatus Status,
    DateTimeOffset StartedAt,
    DateTimeOffset? CompletedAt,
    string? ModelName = null,
    string? ModelVersion = null,
    JsonElement? Input = null,
    JsonElement? Output = null,
    string? Error = null);

/// <summary>A run's outcome: its stored result, then its closing events in order.</summary>
public sealed record FinishInput(PersistInput Result, List<EmitInput> Events);

/// <summary>emit_event and persist_result, shared by every workflow.</summary>
internal sealed class CommonActivities(IEventModule events, IDataModule data)
{
    [Activity("emit_event")]
    public Task<long> EmitEventAsync(EmitInput input) => ActivityErrors.GuardAsync(async () =>
    {
        var published = await events.PublishAsync(
            new PublishEventRequest(
                input.Type,
                input.Source,
                input.Data,
                input.Subject,
                input.IdempotencyKey,
                input.CorrelationId,
                input.DataRef),
            ActivityExecutionContext.Current.CancellationToken);
        return published.Event.Sequence;
    });

    [Activity("persist_result")]
    public Task<long> PersistResultAsync(PersistInput input) => ActivityErrors.GuardAsync(async () =>
    {
        var stored = await data.RecordResultAsync(
            new RecordResultRequest(
                input.JobId,
                input.Step,
                input.Status,
                input.StartedAt,
                input.CompletedAt,
                ActivityExecutionContext.Current.Info.WorkflowId,
                input.ModelName,
                input.ModelVersion,
                input.Input,
                input.Output,
                input.Error),
            ActivityExecutionContext.Current.CancellationToken);
        return stored.Id;
    });

    /// <summary>
    /// persist_result followed by emit_event for each closing event, as one step: both are idempotent (by job and
    /// step, by idempotency key), so a retry after a partial success stores nothing twice and keeps the order.
    /// </summary>
    [Activity("persist_and_emit")]
    public async Task<long> PersistAndEmitAsync(FinishInput input)
    {
        var stored = await PersistResultAsync(input.Result);
        foreach (var emit in input.Events)
        {
            await EmitEventAsync(emit);
        }

        return stored;
    }
}
