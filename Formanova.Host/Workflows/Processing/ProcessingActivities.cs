using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Formanova.Host.Temporal;
using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared;
using Microsoft.Extensions.Options;
using Temporalio.Activities;
using Temporalio.Exceptions;

namespace Formanova.Host.Workflows.Processing;

/// <summary>The ProcessingWorkflow's steps. Each talks to the modules only through their public interfaces.</summary>
internal sealed class ProcessingActivities(
    IModelModule models,
    IDataModule data,
    IHttpClientFactory http,
    IOptions<WorkflowsOptions> options)
{
    public const string ExternalClient = "formanova-external";

    private static CancellationToken Cancellation => ActivityExecutionContext.Current.CancellationToken;

    /// <summary>Checks the inputs against the resolved version's schema (and the dataset's, when one is named).</summary>
    [Activity("validate_input")]
    public Task<ValidatedInput> ValidateInputAsync(ProcessingRequest request) => ActivityErrors.GuardAsync(async () =>
    {
        ModelVersionInfo info;
        try
        {
            // The schema comes from the Model module's short-lived copy of the registry (the one inference uses),
            // not from a registry read per request.
            info = await models.ResolveVersionAsync(request.Model, request.Version, request.Alias, Cancellation);
        }
        catch (Formanova.Modules.Shared.Errors.ModuleException ex) when (ex.Kind == Formanova.Modules.Shared.Errors.ErrorKind.NotFound)
        {
            throw await ResolutionFailureAsync(request);
        }

        var canEnrich = request.DatasetId is not null && request.EntityId is not null;
        var (errors, ignored) = ModelInputs.Check(info, request.Inputs, request.Strict, requireAll: !canEnrich);

        if (request.DatasetId is long datasetId)
        {
            var check = await data.ValidatePredictionInputAsync(datasetId, request.Inputs, Cancellation);
            foreach (var error in check.Errors
                .Where(e => !(canEnrich && e.Reason.Contains("required", StringComparison.OrdinalIgnoreCase))))
            {
                var key = error.Column is null ? "inputs" : $"inputs.{error.Column}";
                errors[key] = [.. errors.GetValueOrDefault(key, []), error.Message];
            }
        }

        if (errors.Count > 0)
        {
            throw ActivityErrors.Invalid($"The input does not match {info.Name} {info.Version}.", errors);
        }

        return new ValidatedInput(info.Name, info.Version, request.Inputs,
            [.. info.Columns.Where(c => c.IsLabel).Select(c => c.Name)], [.. ModelInputs.Of(info).Select(c => c.Name)], ignored);
    });

    /// <summary>Why a version did not resolve, naming the field at fault; only on the error path, so it may read the registry.</summary>
    private async Task<ApplicationFailureException> ResolutionFailureAsync(ProcessingRequest request)
    {
        ModelDetails model;
        try
        {
            model = await models.GetModelAsync(request.Model, Cancellation);
        }
        catch (Formanova.Modules.Shared.Errors.ModuleException ex) when (ex.Kind == Formanova.Modules.Shared.Errors.ErrorKind.NotFound)
        {
            return ActivityErrors.Invalid(ex.Message, new() { ["model"] = [ex.Message] });
        }

        var version = request.Version ?? (request.Alias is { } alias ? model.Aliases.GetValueOrDefault(alias) : model.ActiveVersion);
        var reason = version is null
            ? (request.Alias is null
                ? $"Model '{model.Name}' has no active version."
                : $"Model '{model.Name}' has no alias '{request.Alias}'.")
            : $"Model '{model.Name}' has no version '{version}'.";
        return ActivityErrors.Invalid(
            reason,
            new() { [request.Version is null && request.Alias is not null ? "alias" : "version"] = [reason] });
    }

    /// <summary>
    /// Enriches the request with the entity's stored values of the model's feature columns (request values win) and
    /// normalises it. Inference runs on the result, so the stored features shape the prediction.
    /// </summary>
    [Activity("prepare_data")]
    public Task<PreparedData> PrepareDataAsync(
        ValidatedInput input,
        long? datasetId,
        string? entityId) => ActivityErrors.GuardAsync(async () =>
    {
        var features = new Dictionary<string, JsonElement>(input.Inputs, StringComparer.Ordinal);
        var filled = new List<string>();
        long? sourceRow = null;
        if (datasetId is long dataset && entityId is not null)
        {
            var row = await data.FindRowByEntityIdAsync(dataset, entityId, Cancellation);
            if (row is not null)
            {
                sourceRow = row.RowId;
                foreach (var (name, value) in row.Values)
                {
                    var missing = !features.TryGetValue(name, out var given) || given.ValueKind == JsonValueKind.Null;
                    if (missing && value is not null && input.FeatureColumns.Contains(name))
                    {
                        features[name] = JsonSerializer.SerializeToElement(value);
                        filled.Add(name);
                    }
                }
            }
        }

        var normalised = new List<string>();
        foreach (var name in features.Keys.ToList())
        {
            var value = features[name];
            var canonical = Normalise(value);
            if (canonical.GetRawText() != value.GetRawText())
            {
                features[name] = canonical;
                normalised.Add(name);
            }
        }

        filled.Sort(StringComparer.Ordinal);
        normalised.Sort(StringComparer.Ordinal);
        return new PreparedData(features, sourceRow, filled, normalised);
    });

    [Activity("run_model_inference")]
    public Task<PredictionResult> RunModelInferenceAsync(InferenceInput input) => ActivityErrors.GuardAsync(() =>
        models.PredictAsync(
            new PredictRequest(
                input.Model,
                input.Inputs.ToDictionary(kv => kv.Key, kv => (object?)kv.Value),
                input.Version,
                UseCache: input.UseCache,
                // An enrichment key need not follow the log's rules: one that does not is simply not logged.
                EntityId: EntityKeys.IsValid(input.EntityId) ? input.EntityId : null),
            Cancellation));

    /// <summary>fallback_model: marks the failing version failed, which activates the previous stable one.</summary>
    [Activity("fallback_model")]
    public Task<FallbackResult> FallbackModelAsync(FallbackInput input) => ActivityErrors.GuardAsync(async () =>
    {
        var model = await models.GetModelAsync(input.Model, Cancellation);
        var failed = model.Versions.FirstOrDefault(v => v.Version == input.FailedVersion);
        if (failed?.Status == ModelVersionStatus.Failed)
        {
            // A retry after the marking succeeded: the registry already moved on.
            return new FallbackResult(input.Model, input.FailedVersion, model.ActiveVersion);
        }

        var result = await models.MarkFailedAsync(input.Model, input.FailedVersion, input.Reason, Cancellation);
        if (result.ActiveVersion is null || result.ActiveVersion == input.FailedVersion)
        {
            throw new ApplicationFailureException(
                $"No stable version of '{input.Model}' is left to fall back to.",
                ErrorTypes.Value,
                nonRetryable: true);
        }

        return result;
    });

    /// <summary>POSTs the validated input to the configured service; 4xx answers are final, 5xx and transport errors retried.</summary>
    [Activity("call_external_service")]
    public async Task<ExternalResponse> CallExternalServiceAsync(ExternalCall call)
    {
        var settings = options.Value.ExternalService;
        if (string.IsNullOrWhiteSpace(settings.Url))
        {
            throw new ApplicationFailureException(
                "No external service is configured (Workflows:ExternalService:Url).",
                ErrorTypes.InvalidConfig,
                nonRetryable: true);
        }

        var client = http.CreateClient(ExternalClient);
        using var request = new HttpRequestMessage(HttpMethod.Post, settings.Url)
        {
            Content = JsonContent.Create(new { model = call.Model, version = call.Version, inputs = call.Inputs }),
        };
        if (!string.IsNullOrEmpty(settings.AuthValue))
        {
            request.Headers.TryAddWithoutValidation(settings.AuthHeader, settings.AuthValue);
        }

        var watch = Stopwatch.StartNew();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        timeout.CancelAfter(TimeSpan.FromSeconds(settings.TimeoutSeconds));
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, timeout.Token);
        }
        catch (OperationCanceledException) when (!Cancellation.IsCancellationRequested)
        {
            throw new ApplicationFailureException(
                $"The external service did not answer within {settings.TimeoutSeconds} s.",
                ErrorTypes.Unavailable);
        }
        catch (HttpRequestException ex)
        {
            throw new ApplicationFailureException($"The external service is unreachable: {ex.Message}", ErrorTypes.Unavailable);
        }

        using (response)
        {
            var code = (int)response.StatusCode;
            if (code >= 500 || code == 429)
            {
                throw new ApplicationFailureException($"The external service answered {code}.", ErrorTypes.Unavailable);
            }

            if (code >= 400)
            {
                throw new ApplicationFailureException(
                    $"The external service refused the request with {code}.",
                    ErrorTypes.Value,
                    nonRetryable: true);
            }

            JsonElement? body = null;
            var text = await response.Content.ReadAsStringAsync(timeout.Token);
            if (!string.IsNullOrWhiteSpace(text))
            {
                try
                {
                    body = JsonDocument.Parse(text).RootElement.Clone();
                }
                catch (JsonException)
                {
                    body = JsonSerializer.SerializeToElement(text);
                }
            }

            return new ExternalResponse(code, body, Math.Round(watch.Elapsed.TotalMilliseconds, 1));
        }
    }

    /// <summary>Combines the model output, the prepared data and the external answer into the run's result.</summary>
    [Activity("aggregate_results")]
    public static ProcessingOutput AggregateResults(AggregationInput input)
    {
        var p = input.Prediction;
        return new ProcessingOutput(
            input.JobId, input.Kind, p.Model, p.Version, p.Label, p.Value, p.Score,
            p.Probabilities?.ToDictionary(kv => kv.Key, kv => kv.Value),
            Decision: null, p.Cached, p.FallbackFrom, p.FallbackReason,
            input.Prepared.Features, input.Prepared.SourceRowId, input.Prepared.FilledFromStore,
            input.External, input.Errors, input.StartedAt, CompletedAt: input.StartedAt, [.. p.IgnoredColumns ?? []], p.PredictionId);
    }

    /// <summary>Applies the run's parameters: the decision threshold for binary scores, rounding of every number.</summary>
    [Activity("post_process")]
    public static ProcessingOutput PostProcess(PostProcessInput input)
    {
        var (output, parameters) = (input.Output, input.Params);
        var digits = Math.Clamp(parameters.RoundDigits, 0, 15);
        double? Round(double? v) => v is double d && double.IsFinite(d) ? Math.Round(d, digits) : v;

        var positive = output.Probabilities is { Count: > 0 } probabilities && output.Probabilities.Count <= 2
            ? probabilities.FirstOrDefault(kv => kv.Key is "true" or "True" or "1").Value
            : (double?)null;
        string? decision = output.Value is not null && output.Label is null
            ? null
            : positive is double probability
                ? (probability >= parameters.DecisionThreshold ? "positive" : "negative")
                : output.Label;
        return output with
        {
            Value = Round(output.Value),
            Score = Round(output.Score),
            Probabilities = output.Probabilities?.ToDictionary(kv => kv.Key, kv => Round(kv.Value) ?? kv.Value),
            Decision = decision,
        };
    }

    private static JsonElement Normalise(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => JsonSerializer.SerializeToElement(
            string.Join(' ', value.GetString()!.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))),
        JsonValueKind.Number when value.TryGetDouble(out var number) => JsonSerializer.SerializeToElement(
            double.Parse(number.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)),
        _ => value,
    };
}
