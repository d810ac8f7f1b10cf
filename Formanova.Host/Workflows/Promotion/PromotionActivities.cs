using Formanova.Host.Workflows.Common;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Temporalio.Activities;
using Temporalio.Exceptions;

namespace Formanova.Host.Workflows.Promotion;

/// <summary>The promotion saga's steps and their compensations.</summary>
internal sealed class PromotionActivities(IModelModule models, IEventModule events)
{
    private static CancellationToken Cancellation => ActivityExecutionContext.Current.CancellationToken;

    [Activity("check_model_load")]
    public Task<double> CheckLoadAsync(PromotionTarget target) => ActivityErrors.GuardAsync(async () =>
    {
        var check = await models.CheckLoadAsync(target.Model, target.Version, Cancellation);
        if (!check.Loaded)
        {
            throw new ApplicationFailureException(
                $"{target.Model} {target.Version} does not load: {check.Error}",
                ErrorTypes.Value,
                nonRetryable: true);
        }

        return check.LoadMs;
    });

    [Activity("warm_model")]
    public Task<double> WarmAsync(PromotionTarget target) => ActivityErrors.GuardAsync(async () =>
    {
        var check = await models.WarmAsync(target.Model, target.Version, Cancellation);
        if (!check.Loaded)
        {
            throw new ApplicationFailureException(
                $"{target.Model} {target.Version} could not be warmed: {check.Error}",
                ErrorTypes.Unavailable);
        }

        return check.LoadMs;
    });

    /// <summary>Compensates warm_model: the cached predictions made while warming and smoke-testing are dropped.</summary>
    [Activity("evict_warmed_model")]
    public Task<bool> EvictAsync(PromotionTarget target) => ActivityErrors.GuardAsync(async () =>
    {
        await models.EvictCachedPredictionsAsync(target.Model, target.Version, Cancellation);
        return true;
    });

    /// <summary>Activates the version and points the champion alias at it; returns what was active before.</summary>
    [Activity("switch_active_version")]
    public Task<SwitchResult> SwitchAsync(PromotionTarget target) => ActivityErrors.GuardAsync(async () =>
    {
        var model = await models.GetModelAsync(target.Model, Cancellation);
        // A retry after the switch succeeded must not report the new version as the previous one.
        var previous = model.ActiveVersion == target.Version
            ? model.Versions.Where(v => v.Version != target.Version && v.ActivatedAt is not null).OrderByDescending(v => v.ActivatedAt)
                .FirstOrDefault()?
                .Version
            : model.ActiveVersion;
        await models.ActivateAsync(target.Model, target.Version, Cancellation);
        await models.SetAliasAsync(target.Model, "champion", target.Version, Cancellation);
        return new SwitchResult(previous);
    });

    /// <summary>Compensates switch_active_version: the previous version becomes active (and champion) again.</summary>
    [Activity("restore_previous_version")]
    public Task<string?> RestoreAsync(RestoreInput input) => ActivityErrors.GuardAsync(async () =>
    {
        if (input.PreviousVersion is null)
        {
            // Nothing was active before; marking the new version failed takes it out of service.
            var fallback = await models.MarkFailedAsync(input.Model, input.Version, "promotion rolled back", Cancellation);
            return fallback.ActiveVersion;
        }

        await models.ActivateAsync(input.Model, input.PreviousVersion, Cancellation);
        await models.SetAliasAsync(input.Model, "champion", input.PreviousVersion, Cancellation);
        return input.PreviousVersion;
    });

    /// <summary>Predicts each smoke input on the new version, bypassing the cache; any error fails the promotion.</summary>
    [Activity("smoke_test")]
    public Task<int> SmokeTestAsync(SmokeInput input) => ActivityErrors.GuardAsync(async () =>
    {
        var rows = input.Inputs is { Count: > 0 } given
            ? given.Select(r => r.ToDictionary(kv => kv.Key, kv => (object?)kv.Value)).ToList()
            : [Probe(await models.GetVersionAsync(input.Model, input.Version, Cancellation))];
        foreach (var row in rows)
        {
            var prediction = await models.PredictAsync(new PredictRequest(input.Model, row, input.Version, UseCache: false), Cancellation);
            var answered = prediction.Label is not null || (prediction.Value is double v && double.IsFinite(v));
            if (!answered || prediction.Version != input.Version)
            {
                throw new ApplicationFailureException(
                    $"Smoke prediction on {input.Model} {input.Version} gave no usable answer.",
                    ErrorTypes.Value,
                    nonRetryable: true);
            }
        }

        return rows.Count;
    });

    [Activity("emit_promotion_event")]
    public Task<long> EmitAsync(string type, PromotionTarget target, string? detail) => ActivityErrors.GuardAsync(async () =>
    {
        var id = ActivityExecutionContext.Current.Info.WorkflowId;
        var published = await events.PublishAsync(
            new PublishEventRequest(
                type,
                $"/workflows/{id}",
                WorkflowJson.Element(new { model = target.Model, version = target.Version, detail }),
                $"{target.Model}/{target.Version}",
                $"{id}:{type}",
                id),
            Cancellation);
        return published.Event.Sequence;
    });

    private static Dictionary<string, object?> Probe(ModelVersionInfo version) =>
        version.Columns.Where(c => !c.IsLabel).ToDictionary(c => c.Name, c => c.Kind switch
        {
            ColumnKind.Numeric => (object?)0.0,
            ColumnKind.Boolean => false,
            _ => "",
        });
}
