using System.Text.Json;
using Formanova.Host.Workflows.Common;
using Formanova.Modules.Model;

namespace Formanova.Host.Workflows.Processing;

/// <summary>Parameters a running job accepts through update_params; they shape post-processing.</summary>
public sealed record ProcessingParams(double DecisionThreshold = 0.5, int RoundDigits = 4, bool UseCache = true);

/// <summary>
/// The ProcessingWorkflow's one input. <see cref="DatasetId"/> and <see cref="EntityId"/> let data preparation
/// enrich the request with the entity's stored features; <see cref="CallExternal"/> asks for the external call.
/// <see cref="Revision"/> is the workflow code's shape the run was started with (part of the input, so every replay
/// sees it): runs started before revision 2 replay aggregate_results and post_process as the local activities
/// they recorded; later runs compute them in workflow code.
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
    int Revision = 1)
{
    /// <summary>The revision new runs start with.</summary>
    public const int Current = 2;
}

/// <summary>The input after validation: the resolved version, inputs checked against its schema, and its feature columns.</summary>
public sealed record ValidatedInput(string Model, string Version, Dictionary<string, JsonElement> Inputs, List<string> LabelColumns, List<string> FeatureColumns);

/// <summary>The request enriched from the dataset and normalised (trimmed text, canonical booleans and numbers).</summary>
public sealed record PreparedData(Dictionary<string, JsonElement> Features, long? SourceRowId, List<string> FilledFromStore, List<string> Normalised);

public sealed record InferenceInput(string Model, string Version, Dictionary<string, JsonElement> Inputs, bool UseCache);

public sealed record FallbackInput(string Model, string FailedVersion, string Reason);

public sealed record ExternalCall(string Model, string Version, Dictionary<string, JsonElement> Inputs);

public sealed record ExternalResponse(int StatusCode, JsonElement? Body, double DurationMs);

public sealed record AggregationInput(string JobId, string Kind, PredictionResult Prediction, PreparedData Prepared, ExternalResponse? External, List<ErrorRecord> Errors, DateTime StartedAt);

public sealed record PostProcessInput(ProcessingOutput Output, ProcessingParams Params);

/// <summary>What a processing run returns and stores: the prediction, the decision and everything that fed it.</summary>
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
    DateTime CompletedAt);

/// <summary>The cancel signal's argument: why the job is stopped, and by whom (both recorded with the result).</summary>
public sealed record CancelRequest(string? Reason = null, string? By = null);

/// <summary>get_current_status: where the run is and when it should be done.</summary>
public sealed record ProcessingStatus(string Stage, double ProgressPercent, DateTime StartedAt, DateTime? EstimatedCompletion, bool Paused, ProcessingParams Params);
