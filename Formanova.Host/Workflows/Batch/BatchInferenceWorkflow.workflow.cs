using Formanova.Host.Workflows.Common;
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
    private List<string> _ignored = [];

    [WorkflowQuery("get_progress")]
    public BatchProgress GetProgress()
    {
        var total = _state?.ChunkCursors.Count ?? 0;
        var rows = _state?.TotalRows ?? 0;

        // By chunks, which cover the source rows evenly: a filter predicts fewer rows than the source has.
        var percent = total == 0 ? (_stage == "completed" ? 100 : 0) : Math.Round(100.0 * _chunksDone / total, 1);
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
            // The plan's time is counted once, in the first run; a continued run carries the sums in its state.
            _state = input.State is null ? await BatchSteps.PlanAsync(input) : input.State with { Run = input.State.Run + 1 };
            _timings = _state.Timings ?? _timings;
            _ignored = _state.IgnoredColumns ?? _ignored;
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
                running.Add(BatchSteps.ProcessChunkAsync(input, _state, index));
            }

            while (running.Count > 0)
            {
                await CollectAsync(running, await Workflow.WhenAnyAsync(running));
            }

            if (end < _state.ChunkCursors.Count)
            {
                var state = _state with { NextChunk = end, RowsDone = _rowsDone, Timings = _timings, IgnoredColumns = _ignored };
                var next = input with { State = state };
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
                _timings.Rounded(),
                _ignored);
            var completed = new { jobId = id, kind = "batch", status = "completed", rows = _rowsDone, ignoredColumns = _ignored };
            await WorkflowSteps.CloseSucceededAsync(
                policy,
                _state.StartedAt,
                input.Model,
                _state.Version,
                WorkflowJson.Element(outcome),
                completed);
            return outcome;
        }
        catch (Exception ex) when (RunFailure.ClosesRun(ex))
        {
            var failure = RunFailure.Of(ex, _stage, "The batch job was cancelled.");
            _stage = failure.Stage;
            var output = WorkflowJson.Element(
                new { jobId = id, status = _stage, rowsDone = _rowsDone, chunksDone = _chunksDone, errors = new[] { failure.Error } });
            var startedAt = _state?.StartedAt ?? Workflow.UtcNow;
            await WorkflowSteps.CloseFailedAsync(policy, startedAt, failure, input.Model, _state?.Version, output);
            throw;
        }
    }

    private async Task CollectAsync(List<Task<ChunkResult>> running, Task<ChunkResult> finished)
    {
        running.Remove(finished);
        var result = await finished;
        _chunksDone++;
        _rowsDone += result.Rows;
        _timings = _timings.Add(result.Timings);

        // Every chunk reads the same columns, so the union is the list of any one of them, kept in column order.
        _ignored.AddRange((result.IgnoredColumns ?? []).Except(_ignored, StringComparer.Ordinal).ToList());
    }
}
