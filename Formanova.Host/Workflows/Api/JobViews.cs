using System.Text.Json;
using Formanova.Host.Workflows.Batch;
using Formanova.Host.Workflows.Common;
using Formanova.Host.Workflows.Processing;
using Formanova.Host.Workflows.Promotion;
using Formanova.Host.Workflows.Training;
using Formanova.Modules.Data;

namespace Formanova.Host.Workflows.Api;

/// <summary>
/// GET /jobs/{id} for every kind the job listing shows (docs/workflows.md, "ProcessingWorkflow"): the common
/// <see cref="JobView"/> fields, read through the kind's own view, plus <see cref="JobView.Location"/>, the kind's
/// path, where its full view and its actions are. One describe decides the kind and is reused by the kind's reader.
/// </summary>
internal static class JobViews
{
    public static async Task<JobView> ReadAsync(string id, WorkflowGateway gateway, IDataModule data, CancellationToken ct)
    {
        var description = await gateway.DescribeAnyAsync(id, ct);
        var location = WorkflowLocations.PathOf(description.WorkflowType, id);
        var type = WorkflowLocations.KindOf(description.WorkflowType, id);
        switch (description.WorkflowType)
        {
            case nameof(ModelTrainingWorkflow):
                {
                    var run = await TrainingEndpoints.ViewAsync(gateway, data, null, id, description, ct);
                    var errors = run.Progress?.Errors ?? StoredErrors(run.Result);
                    var completed = run.Status == "completed";
                    return new JobView(id, type, run.Status, run.Stage, run.ProgressPercent, run.StartedAt, null, run.ClosedAt,
                        false, null, completed ? run.Result : null, run.Error, errors, location);
                }

            case nameof(BatchInferenceWorkflow):
                {
                    var job = await BatchEndpoints.ViewAsync(gateway, data, id, description, ct);
                    var completed = job.Status == "completed";
                    return new JobView(id, type, job.Status, job.Progress?.Stage ?? job.Status,
                        job.Progress?.ProgressPercent ?? (completed ? 100 : null), job.StartedAt, null, job.ClosedAt,
                        job.Progress?.Paused ?? false, null, completed ? job.Result : null, job.Error, StoredErrors(job.Result), location);
                }

            case nameof(ModelPromotionSaga):
                {
                    var saga = await PromotionEndpoints.ViewAsync(gateway, data, id, description, ct);
                    var completed = saga.Status == "completed";
                    return new JobView(id, type, saga.Status, saga.Saga?.Stage ?? saga.Saga?.Status ?? saga.Status,
                        completed ? 100 : null, saga.StartedAt, null, saga.ClosedAt, false, null,
                        completed && saga.Saga is not null ? WorkflowJson.Element(saga.Saga) : null, saga.Error, saga.Saga?.Errors ?? [],
                        location);
                }

            case nameof(ProcessingWorkflow):
                return await ProcessingEndpoints.ViewAsync(id, gateway, data, ct, description);

            default:
                // Webhook deliveries and other internal runs are not jobs of the API.
                throw Modules.Shared.Errors.ModuleException.NotFound("Job", id);
        }
    }

    /// <summary>The error history a closed run stored with its outcome (its <c>errors</c> array), or none.</summary>
    public static List<ErrorRecord> StoredErrors(JsonElement? output) =>
        output is { ValueKind: JsonValueKind.Object } stored
        && stored.TryGetProperty("errors", out var list)
        && list.ValueKind == JsonValueKind.Array
            ? list.Deserialize<List<ErrorRecord>>(WorkflowJson.Options) ?? []
            : [];
}
