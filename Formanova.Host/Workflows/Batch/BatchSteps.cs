using Formanova.Host.Workflows.Common;
using Formanova.Modules.Event;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Batch;

/// <summary>
/// The activity calls of <see cref="BatchInferenceWorkflow"/>, each with its step policy. Called from workflow code
/// only, so they are as deterministic as the workflow itself.
/// </summary>
internal static class BatchSteps
{
    /// <summary>The first run's start: WORKFLOW_STARTED, then the plan, which the runs after it carry in their input.</summary>
    public static async Task<BatchState> PlanAsync(BatchInput input)
    {
        var id = Workflow.Info.WorkflowId;
        await WorkflowSteps.EmitAsync(
            input.Policy,
            IEventModule.WorkflowStarted,
            new { jobId = id, kind = "batch", model = input.Model, datasetId = input.DatasetId });
        var planning = Workflow.UtcNow;
        var plan = await Workflow.ExecuteActivityAsync((BatchActivities a) => a.PlanAsync(input), input.Policy.For(t => t.Chunk));
        var timings = new BatchTimings((Workflow.UtcNow - planning).TotalMilliseconds, 0, 0, 0);
        return new BatchState(
            plan.Version, plan.SourceDatasetId, plan.ChunkCursors, plan.TotalRows, 0, 0, planning, 1, [], timings, plan.Transforms);
    }

    public static Task<ChunkResult> ProcessChunkAsync(BatchInput input, BatchState state, int index)
    {
        var chunk = new ChunkInput(
            Workflow.Info.WorkflowId,
            input.Model,
            state.Version,
            state.SourceDatasetId,
            index,
            state.ChunkCursors[index],
            input.ChunkSize,
            state.Transforms,
            input.Strict);
        return Workflow.ExecuteActivityAsync((BatchActivities a) => a.ProcessChunkAsync(chunk), input.Policy.For(t => t.Chunk));
    }
}
