using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Batch;

/// <summary>
/// Batch inference: plan the chunks once, then run them as activities with bounded parallelism, at most
/// ChunksPerRun per run before continuing as new so each history stays small. Completed chunks are in the
/// history (and stored), so after a crash only the chunks that were in flight run again.
/// </summary>
[Workflow]
public sealed class BatchInferenceWorkflow
{
    private BatchState? _state;
    private string _stage = "planning";
    private bool _paused;
    private int _chunksDone;
    private long _rowsDone;
    private BatchTimings _timings = new(0, 0, 0, 0);

    [WorkflowQuery("get_progress")]
    public BatchProgress GetProgress()
    {
        var total = _state?.ChunkCursors.Count ?? 0;
        var rows = _state?.TotalRows ?? 0;
        var percent = rows == 0 ? (_stage == "completed" ? 100 : 0) : Math.Round(100.0 * _rowsDone / rows, 1);
        return new BatchProgress(
            _paused ? $"paused ({_stage})" : _stage,
            rows,
            _rowsDone,
            total,
            _chunksDone,
            percent,
            _paused,
            _state?.Run ?? 1,
            _state?.Version);
    }

    [WorkflowSignal("pause")]
    public Task PauseAsync()
    {
        _paused = true;
        return Task.CompletedTask;
    }

    [WorkflowSignal("resume")]
    public Task ResumeAsync()
    {
        _paused = false;
        return Task.CompletedTask;
    }

    [WorkflowRun]
    public async Task<BatchOutcome> RunAsync(BatchInput input)
    {
        var policy = input.Policy;
        var id = Workflow.Info.WorkflowId;
        try
        {
            if (input.State is null)
            {
                await WorkflowSteps.EmitAsync(
                    policy,
                    IEventModule.WorkflowStarted,
                    new { jobId = id, kind = "batch", model = input.Model, datasetId = input.DatasetId });
                var planning = Workflow.UtcNow;
                var plan = await Workflow.ExecuteActivityAsync(
                    (BatchActivities a) => a.PlanAsync(input),
                    policy.For("chunk", heartbeat: null));
                _state = new BatchState(
                    plan.Version,
                    plan.SourceDatasetId,
                    plan.ChunkCursors,
                    plan.TotalRows,
                    0,
                    0,
                    planning,
                    1,
                    [],
                    new(0, 0, 0, 0));
                _timings = new((Workflow.UtcNow - planning).TotalMilliseconds, 0, 0, 0);
            }
            else
            {
                _state = input.State with { Run = input.State.Run + 1 };
            }

            _timings = _state.Timings?.Add(_timings) ?? _timings;
            _chunksDone = _state.NextChunk;
            _rowsDone = _state.RowsDone;
            _stage = "running";
            var end = Math.Min(_state.ChunkCursors.Count, _state.NextChunk + input.ChunksPerRun);
            var running = new List<Task<ChunkResult>>();
            for (var index = _state.NextChunk; index < end; index++)
            {
                if (running.Count >= input.Parallelism)
                {
                    await CollectAsync(running, await Workflow.WhenAnyAsync(running));
                }

                await Workflow.WaitConditionAsync(() => !_paused);
                var chunk = new ChunkInput(
                    id,
                    input.Model,
                    _state.Version,
                    _state.SourceDatasetId,
                    index,
                    _state.ChunkCursors[index],
                    input.ChunkSize);
                running.Add(Workflow.ExecuteActivityAsync((BatchActivities a) => a.ProcessChunkAsync(chunk), policy.For("chunk")));
            }

            while (running.Count > 0)
            {
                await CollectAsync(running, await Workflow.WhenAnyAsync(running));
            }

            if (end < _state.ChunkCursors.Count)
            {
                var next = input with { State = _state with { NextChunk = end, RowsDone = _rowsDone, Timings = _timings } };
                throw Workflow.CreateContinueAsNewException((BatchInferenceWorkflow wf) => wf.RunAsync(next));
            }

            _stage = "completed";
            var outcome = new BatchOutcome(
                input.Model,
                _state.Version,
                _state.SourceDatasetId,
                _rowsDone,
                _state.ChunkCursors.Count,
                _state.Run,
                _state.Errors,
                _timings.Rounded());
            var json = WorkflowJson.Element(outcome);
            await WorkflowSteps.PersistAsync(
                policy,
                _state.StartedAt,
                ResultStatus.Succeeded,
                input.Model,
                _state.Version,
                null,
                json,
                null);
            await WorkflowSteps.EmitAsync(
                policy,
                IEventModule.WorkflowCompleted,
                new { jobId = id, kind = "batch", status = "completed", rows = _rowsDone });
            return outcome;
        }
        catch (Exception ex) when (ex is not ContinueAsNewException)
        {
            var cancelled = TemporalException.IsCanceledException(ex);
            var error = new ErrorRecord(
                Workflow.UtcNow,
                _stage,
                cancelled ? "Cancelled" : ActivityErrors.TypeOf(ex),
                cancelled ? "The batch job was cancelled." : ActivityErrors.Describe(ex),
                Handled: false);
            _stage = cancelled ? "cancelled" : "failed";
            var failure = WorkflowJson.Element(
                new { jobId = id, status = _stage, rowsDone = _rowsDone, chunksDone = _chunksDone, errors = new[] { error } });
            await WorkflowSteps.PersistAsync(
                policy,
                _state?.StartedAt ?? Workflow.UtcNow,
                cancelled ? ResultStatus.Cancelled : ResultStatus.Failed,
                input.Model,
                _state?.Version,
                null,
                failure,
                error.Message);
            await WorkflowSteps.EmitAsync(policy, IEventModule.WorkflowFailed, failure);
            if (ex is FailureException || cancelled)
            {
                throw;
            }

            throw new ApplicationFailureException(error.Message, error.Type, nonRetryable: true);
        }
    }

    private async Task CollectAsync(List<Task<ChunkResult>> running, Task<ChunkResult> finished)
    {
        running.Remove(finished);
        var result = await finished;
        _chunksDone++;
        _rowsDone += result.Rows;
        _timings = _timings.Add(result.Timings);
    }
}
