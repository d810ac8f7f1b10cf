using System.Text.Json;
using Formanova.Host.Workflows.Common;
using Formanova.Modules.Model;

namespace Formanova.Host.Workflows.Processing;

/// <summary>Parameters a running job accepts through set_params (or the older update_params signal); they shape post-processing.</summary>
public sealed record ProcessingParams(double DecisionThreshold = 0.5, int RoundDigits = 4, bool UseCache = true)
{
    public const string ThresholdRange = "decisionThreshold must be between 0 and 1.";
    public const string DigitsRange = "roundDigits must be between 0 and 15.";

    public static bool ThresholdInRange(double threshold) => threshold is >= 0 and <= 1;

    public static bool DigitsInRange(int digits) => digits is >= 0 and <= 15;
}

/// <summary>The set_params update's argument: the values given replace the job's current ones, the others are kept.</summary>
public sealed record ProcessingParamsChange(double? DecisionThreshold = null, int? RoundDigits = null, bool? UseCache = null)
{
    /// <summary>The values out of range, by the request's field names (the rules a new job's params follow).</summary>
    public Dictionary<string, string[]> Check()
    {
        var errors = new Dictionary<string, string[]>();
        if (DecisionThreshold is { } threshold && !ProcessingParams.ThresholdInRange(threshold))
        {
            errors["decisionThreshold"] = [ProcessingParams.ThresholdRange];
        }

        if (RoundDigits is { } digits && !ProcessingParams.DigitsInRange(digits))
        {
            errors["roundDigits"] = [ProcessingParams.DigitsRange];
        }

        return errors;
    }

    /// <summary>The request's fields this change gives a value for.</summary>
    public IEnumerable<string> Fields()
    {
        if (DecisionThreshold is not null)
        {
            yield return "decisionThreshold";
        }

        if (RoundDigits is not null)
        {
            yield return "roundDigits";
        }

        if (UseCache is not null)
        {
            yield return "useCache";
        }
    }

    public ProcessingParams ApplyTo(ProcessingParams current) => new(
        DecisionThreshold ?? current.DecisionThreshold,
        RoundDigits ?? current.RoundDigits,
        UseCache ?? current.UseCache);
}

/// <summary>
/// The ProcessingWorkflow's one input. <see cref="DatasetId"/> and <see cref="EntityId"/> let data preparation
/// enrich the request with the entity's stored features; <see cref="CallExternal"/> asks for the external call.
/// </summary>
public sealed record ProcessingRequest(
    string Kind,
    string Model,
    string? Version,
    string? Alias,
    Dictionary<string, JsonElement> Inputs,
    long? DatasetId,
    string? EntityId,
    bool CallExternal,
    bool StartPaused,
    ProcessingParams Params,
    string RequestHash,
    StepPolicy Policy,
    bool Strict = false);

/// <summary>
/// The input after validation: the resolved version, inputs checked against its input contract, the raw columns it
/// reads and the keys it ignores.
/// </summary>
public sealed record ValidatedInput(
    string Model,
    string Version,
    Dictionary<string, JsonElement> Inputs,
    List<string> LabelColumns,
    List<string> FeatureColumns,
    List<string>? IgnoredColumns = null);

/// <summary>The request enriched from the dataset and normalised (trimmed text, canonical booleans and numbers).</summary>
public sealed record PreparedData(
    Dictionary<string, JsonElement> Features,
    long? SourceRowId,
    List<string> FilledFromStore,
    List<string> Normalised);

/// <summary><see cref="EntityId"/> is the request's entity, logged with the prediction for feedback (docs/feedback.md).</summary>
public sealed record InferenceInput(
    string Model,
    string Version,
    Dictionary<string, JsonElement> Inputs,
    bool UseCache,
    string? EntityId = null);

public sealed record FallbackInput(string Model, string FailedVersion, string Reason);

public sealed record ExternalCall(string Model, string Version, Dictionary<string, JsonElement> Inputs);

public sealed record ExternalResponse(int StatusCode, JsonElement? Body, double DurationMs);

public sealed record AggregationInput(
    string JobId,
    string Kind,
    PredictionResult Prediction,
    PreparedData Prepared,
    ExternalResponse? External,
    List<ErrorRecord> Errors,
    DateTime StartedAt);

public sealed record PostProcessInput(ProcessingOutput Output, ProcessingParams Params);

/// <summary>
/// What a processing run returns and stores: the prediction, the decision and everything that fed it.
/// <see cref="PredictionId"/> is the prediction's id for feedback (null in a run recorded before it existed).
/// </summary>
public sealed record ProcessingOutput(
    string JobId,
    string Kind,
    string Model,
    string Version,
    string? Label,
    double? Value,
    double? Score,
    Dictionary<string, double>? Probabilities,
    string? Decision,
    bool Cached,
    string? FallbackFrom,
    string? FallbackReason,
    Dictionary<string, JsonElement> Features,
    long? SourceRowId,
    List<string> FilledFromStore,
    ExternalResponse? External,
    List<ErrorRecord> Errors,
    DateTime StartedAt,
    DateTime CompletedAt,
    List<string>? IgnoredColumns = null,
    string? PredictionId = null);

/// <summary>
/// The cancel signal's argument: why the job is stopped, and by whom (both recorded with the result). With
/// <paramref name="CancellationFollows"/> the sender requests Temporal's cancellation right after the signal (the REST
/// endpoint does): the run only records the reason and ends through that request, CANCELED. Without it the signal
/// alone stops the run at its next stage boundary, FAILED with type Cancelled, since a workflow cannot close itself
/// CANCELED without a cancel request.
/// </summary>
public sealed record CancelRequest(string? Reason = null, string? By = null, bool CancellationFollows = false)
{
    /// <summary>The reason as the error history records it, with who sent it.</summary>
    public string Describe() =>
        (string.IsNullOrWhiteSpace(Reason) ? "Cancelled on request" : Reason.Trim())
        + (string.IsNullOrWhiteSpace(By) ? "" : $" (by {By.Trim()})");
}

/// <summary>get_current_status: where the run is and when it should be done.</summary>
public sealed record ProcessingStatus(
    string Stage,
    double ProgressPercent,
    DateTime StartedAt,
    DateTime? EstimatedCompletion,
    bool Paused,
    ProcessingParams Params)
{
    /// <summary>The status at <paramref name="now"/>; the estimate extrapolates linearly from the share of stages done.</summary>
    public static ProcessingStatus Of(
        string stage,
        double progress,
        DateTime startedAt,
        DateTime now,
        bool paused,
        ProcessingParams parameters)
    {
        // Good enough to tell seconds from hours.
        DateTime? eta = progress is > 0 and < 100 && !paused
            ? startedAt + TimeSpan.FromTicks((long)((now - startedAt).Ticks * 100 / progress))
            : null;
        return new ProcessingStatus(paused ? $"paused ({stage})" : stage, progress, startedAt, eta, paused, parameters);
    }
}
