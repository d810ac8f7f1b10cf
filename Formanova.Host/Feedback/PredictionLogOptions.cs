using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Feedback;

/// <summary>The <c>PredictionLog</c> configuration section (docs/configuration.md, docs/feedback.md).</summary>
internal sealed class PredictionLogOptions
{
    public const string SectionName = "PredictionLog";

    /// <summary>False logs nothing: predictions still get ids, and feedback finds nothing to attach to.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The share of predictions logged, decided by a hash of the prediction id: the same id is always in or out, so
    /// feedback for a prediction left out can be told apart (<c>notSampled</c>) from an unknown id.
    /// </summary>
    [Range(0.0, 1.0)]
    public double SampleRate { get; set; } = 1.0;

    /// <summary>Predictions waiting for the writer; when it is full a new one is dropped and counted, never waited for.</summary>
    [Range(1, 10_000_000)]
    public int QueueCapacity { get; set; } = 50_000;

    /// <summary>Most predictions one write transaction takes.</summary>
    [Range(1, 100_000)]
    public int WriteBatchRows { get; set; } = 1000;

    /// <summary>
    /// How long the writer lets a batch gather before it writes, unless the batch fills first. Feedback that names a
    /// recent prediction does not wait for it: it makes the writer write what is queued first. 0 writes at once.
    /// </summary>
    [Range(0, 60_000)]
    public int WriteDelayMilliseconds { get; set; } = 100;

    /// <summary>Logged predictions older than this many days are deleted by the sweep (with their feedback).</summary>
    [Range(1, 3650)]
    public int RetentionDays { get; set; } = 30;

    /// <summary>The most predictions the log keeps; the sweep deletes the oldest beyond it.</summary>
    [Range(1, long.MaxValue)]
    public long MaxRows { get; set; } = 5_000_000;

    /// <summary>Seconds between two sweeps (retention and the row cap); the first runs at start.</summary>
    [Range(1, 86_400)]
    public int SweepIntervalSeconds { get; set; } = 600;

    /// <summary>On shutdown, how long the writer may take to write what is queued.</summary>
    [Range(0, 600)]
    public int FlushTimeoutSeconds { get; set; } = 10;

    /// <summary>The newest binary predictions with feedback, per group, that the outcome summary computes AUC on.</summary>
    [Range(10, 1_000_000)]
    public int AucSampleRows { get; set; } = 10_000;
}

[OptionsValidator]
internal sealed partial class PredictionLogOptionsValidator : IValidateOptions<PredictionLogOptions>;
