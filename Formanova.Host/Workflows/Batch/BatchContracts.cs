using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;

namespace Formanova.Host.Workflows.Batch;

/// <summary>
/// A batch inference over a dataset (transformed first when <see cref="Transforms"/> are given). <see cref="State"/>
/// is null on the first run and carries the plan and the progress across continue-as-new. With <see cref="Strict"/> a
/// column the model does not read fails the chunk instead of being listed in <see cref="BatchOutcome.IgnoredColumns"/>.
/// </summary>
public sealed record BatchInput(
    string Model,
    string? Version,
    long DatasetId,
    List<TransformStep>? Transforms,
    int ChunkSize,
    int Parallelism,
    int ChunksPerRun,
    StepPolicy Policy,
    BatchState? State = null,
    bool Strict = false);

/// <summary>The plan (the first row cursor of every chunk) and how far the job got.</summary>
public sealed record BatchState(
    string Version,
    long SourceDatasetId,
    List<long> ChunkCursors,
    long TotalRows,
    int NextChunk,
    long RowsDone,
    DateTime StartedAt,
    int Run,
    List<ErrorRecord> Errors,
    BatchTimings? Timings = null,
    List<TransformStep>? Transforms = null,
    List<string>? IgnoredColumns = null);

/// <summary>
/// The chunks of the source dataset and, when the job has transforms, those transforms frozen (a fill's mean or mode
/// computed once), which each chunk applies as it reads its rows. A plan made before transforms were applied per chunk
/// has none: its <see cref="SourceDatasetId"/> is the copy it materialised.
/// </summary>
public sealed record BatchPlan(
    string Version,
    long SourceDatasetId,
    List<long> ChunkCursors,
    long TotalRows,
    List<TransformStep>? Transforms = null);

public sealed record ChunkInput(
    string JobId,
    string Model,
    string Version,
    long DatasetId,
    int Index,
    long StartCursor,
    int ChunkSize,
    List<TransformStep>? Transforms = null,
    bool Strict = false);

/// <summary>A chunk's rows and timings, and the columns the model ignored in it (none for a replayed chunk).</summary>
public sealed record ChunkResult(
    int Index,
    long Rows,
    bool Replayed,
    BatchTimings? Timings = null,
    List<string>? IgnoredColumns = null);

/// <summary>
/// Where a job's time went, in milliseconds: planning (wall clock in the workflow), and reading, predicting and
/// writing summed over the chunks (they overlap when chunks run in parallel). A replayed chunk adds nothing.
/// </summary>
public sealed record BatchTimings(double PlanMs, double ReadMs, double PredictMs, double WriteMs)
{
    public BatchTimings Add(BatchTimings? other) =>
        other is null ? this : new(PlanMs + other.PlanMs, ReadMs + other.ReadMs, PredictMs + other.PredictMs, WriteMs + other.WriteMs);

    // Sums of doubles print as 2.6961000000000004; a microsecond is finer than these timings mean anything.
    public BatchTimings Rounded() => new(Math.Round(PlanMs, 3), Math.Round(ReadMs, 3), Math.Round(PredictMs, 3), Math.Round(WriteMs, 3));
}

/// <summary>get_progress: rows and chunks done, and whether the job is paused.</summary>
public sealed record BatchProgress(
    string Stage,
    long TotalRows,
    long RowsDone,
    int TotalChunks,
    int ChunksDone,
    double ProgressPercent,
    bool Paused,
    int Run,
    string? Version);

/// <summary>The completed job. <see cref="IgnoredColumns"/> lists once the columns the model did not read.</summary>
public sealed record BatchOutcome(
    string Model,
    string Version,
    long SourceDatasetId,
    long Rows,
    int Chunks,
    int Runs,
    List<ErrorRecord> Errors,
    BatchTimings? Timings = null,
    List<string>? IgnoredColumns = null);
