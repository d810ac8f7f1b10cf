using System.Text.Json.Serialization;
using Temporalio.Common;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Common;

/// <summary>
/// The retry policy and activity timeouts a run uses, captured from configuration when the run starts and carried
/// in its input: a replay then sees the values the run was started with, whatever the configuration says today.
/// A step names its timeout with a selector (<c>policy.For(t => t.Inference)</c>), so a misspelt step does not compile.
/// </summary>
public sealed record StepPolicy(
    double InitialIntervalSeconds,
    double BackoffCoefficient,
    double MaximumIntervalSeconds,
    int MaximumAttempts,
    StepTimeouts TimeoutSeconds)
{
    /// <summary>Failure types never retried: bad input, missing resources, configurations that cannot train.</summary>
    public static readonly string[] NonRetryableTypes =
    [
        ErrorTypes.InvalidInput, ErrorTypes.Value, ErrorTypes.NotFound, ErrorTypes.Conflict, ErrorTypes.OutOfMemory,
        ErrorTypes.InvalidConfig,
    ];

    public RetryPolicy Retry(int? maximumAttempts = null) => new()
    {
        InitialInterval = TimeSpan.FromSeconds(InitialIntervalSeconds),
        BackoffCoefficient = (float)BackoffCoefficient,
        MaximumInterval = TimeSpan.FromSeconds(MaximumIntervalSeconds),
        MaximumAttempts = maximumAttempts ?? MaximumAttempts,
        NonRetryableErrorTypes = NonRetryableTypes,
    };

    public TimeSpan Timeout(Func<StepTimeouts, double> step) => TimeSpan.FromSeconds(step(TimeoutSeconds));

    /// <summary>Options for one step: start-to-close from <see cref="TimeoutSeconds"/>, the shared retry policy.</summary>
    public ActivityOptions For(
        Func<StepTimeouts, double> step,
        CancellationToken? cancellation = null,
        int? maximumAttempts = null,
        TimeSpan? heartbeat = null) => new()
        {
            StartToCloseTimeout = Timeout(step),
            RetryPolicy = Retry(maximumAttempts),
            HeartbeatTimeout = heartbeat,
            CancellationToken = cancellation,
        };

    /// <summary>
    /// The same step as a local activity: run by the worker inside the workflow task, recorded as a marker, retried
    /// with the same policy. For short steps, where the server round trip of a regular activity costs more than the
    /// work.
    /// </summary>
    public LocalActivityOptions Local(Func<StepTimeouts, double> step, CancellationToken? cancellation = null) => new()
    {
        StartToCloseTimeout = Timeout(step),
        RetryPolicy = Retry(),
        CancellationToken = cancellation,
    };
}

/// <summary>
/// Start-to-close timeouts in seconds, one per kind of step (the table in docs/workflows.md, "Retry policy and
/// timeouts"; configured under <c>Workflows:Timeouts</c>, <c>Workflows:Training</c> and <c>Workflows:Batch</c>).
/// The JSON names are those of the string-keyed dictionary this record replaced, so the recorded histories in
/// Formanova.Tests/Workflows/Histories (and any run started before) read with the timeouts they started with.
/// </summary>
public sealed record StepTimeouts(
    [property: JsonPropertyName("validate")] double Validate,
    [property: JsonPropertyName("inference")] double Inference,
    [property: JsonPropertyName("prepare")] double Prepare,
    [property: JsonPropertyName("external")] double External,
    [property: JsonPropertyName("aggregate")] double Aggregate,
    [property: JsonPropertyName("persist")] double Persist,
    [property: JsonPropertyName("emit")] double Emit,
    [property: JsonPropertyName("train-prepare")] double TrainPrepare,
    [property: JsonPropertyName("train")] double Train,
    [property: JsonPropertyName("train-heartbeat")] double TrainHeartbeat,
    [property: JsonPropertyName("chunk")] double Chunk);

/// <summary>
/// Application failure types raised by activities and workflows (the non-retryable ones in
/// <see cref="StepPolicy.NonRetryableTypes"/>).
/// </summary>
public static class ErrorTypes
{
    public const string InvalidInput = "InvalidInputError";
    public const string Value = "ValueError";
    public const string NotFound = "NotFoundError";
    public const string Conflict = "ConflictError";
    public const string Unavailable = "UnavailableError";

    /// <summary>
    /// The database was unreachable or momentarily unable to serve: retried like <see cref="Unavailable"/>, but it
    /// says nothing about the model, so inference that fails with it never falls back to another version.
    /// </summary>
    public const string DatabaseUnavailable = "DatabaseUnavailableError";
    public const string OutOfMemory = "OutOfMemoryError";
    public const string InvalidConfig = "InvalidConfigError";
    public const string ModelValidation = "ModelValidationFailed";
    public const string Rejected = "ApprovalRejected";

    /// <summary>
    /// A run stopped by the <c>cancel</c> signal alone, which closes FAILED with this type; a run cancelled through
    /// the API or Temporal's cancellation closes CANCELED. Either way the error history records this type.
    /// </summary>
    public const string Cancelled = "Cancelled";
}

/// <summary>One failure seen by a run, kept for the get_error_history query and stored with the result.</summary>
public sealed record ErrorRecord(DateTime At, string Stage, string Type, string Message, bool Handled);
