using Temporalio.Common;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Common;

/// <summary>
/// The retry policy and activity timeouts a run uses, captured from configuration when the run starts and carried
/// in its input: a replay then sees the values the run was started with, whatever the configuration says today.
/// </summary>
public sealed record StepPolicy(
    double InitialIntervalSeconds,
    double BackoffCoefficient,
    double MaximumIntervalSeconds,
    int MaximumAttempts,
    Dictionary<string, double> TimeoutSeconds)
{
    /// <summary>Failure types never retried: bad input, missing resources, configurations that cannot train.</summary>
    public static readonly string[] NonRetryableTypes =
        [
            ErrorTypes.InvalidInput, ErrorTypes.Value, ErrorTypes.NotFound, ErrorTypes.Conflict, ErrorTypes.OutOfMemory, ErrorTypes
            .InvalidConfig
        ];

    public RetryPolicy Retry(int? maximumAttempts = null) => new()
    {
        InitialInterval = TimeSpan.FromSeconds(InitialIntervalSeconds),
        BackoffCoefficient = (float)BackoffCoefficient,
        MaximumInterval = TimeSpan.FromSeconds(MaximumIntervalSeconds),
        MaximumAttempts = maximumAttempts ?? MaximumAttempts,
        NonRetryableErrorTypes = NonRetryableTypes,
    };

    public TimeSpan Timeout(string step) =>
        TimeSpan.FromSeconds(TimeoutSeconds.TryGetValue(step, out var seconds) ? seconds : 30);

    /// <summary>Options for one step: start-to-close from <see cref="TimeoutSeconds"/>, the shared retry policy.</summary>
    public ActivityOptions For(
        string step,
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
    /// with the same policy. For short steps, where the server round trip of a regular activity costs more than the work.
    /// </summary>
    public LocalActivityOptions Local(string step, CancellationToken? cancellation = null) => new()
    {
        StartToCloseTimeout = Timeout(step),
        RetryPolicy = Retry(),
        CancellationToken = cancellation,
    };
}

/// <summary>Application failure types raised by activities and workflows (the seed's non-retryable errors among them).</summary>
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
