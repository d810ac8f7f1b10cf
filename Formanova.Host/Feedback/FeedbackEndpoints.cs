using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using FluentValidation;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Feedback;

/// <summary>
/// One true outcome: for the prediction <see cref="PredictionId"/>, or for the latest prediction of
/// <see cref="Model"/> for <see cref="EntityId"/> logged at or before <see cref="At"/> (now when left out).
/// <see cref="Outcome"/> is the true class (a string, or a boolean for a true/false class) or the true number.
/// </summary>
internal sealed record FeedbackBodyItem(
    string? PredictionId = null,
    string? Model = null,
    string? EntityId = null,
    DateTimeOffset? At = null,
    JsonElement? Outcome = null);

internal sealed record FeedbackBody(List<FeedbackBodyItem>? Items = null);

/// <summary>How many items were stored now, were already stored, or matched no logged prediction; and each item's status.</summary>
internal sealed record FeedbackAnswer(int Recorded, int Unchanged, int NotMatched, IReadOnlyList<FeedbackItemResult> Items);

internal static class FeedbackEndpoints
{
    public const int MaxItems = 1000;

    private static readonly RequiredScopeMetadata PredictScope = new(ApiScopes.Predict);

    private const string ExampleId = "019aeb2c-61d0-7c3e-9f57-2b1f0c4e8a11";

    public static IEndpointRouteBuilder MapFeedbackEndpoints(this IEndpointRouteBuilder api)
    {
        api.MapPost("/feedback", RecordAsync).WithTags("Feedback").WithName("RecordFeedback").WithMetadata(PredictScope)
            .WithSummary("Send the true outcomes of predictions")
            .WithDescription(
                "Stores the true outcome of up to 1000 predictions (docs/feedback.md), each named by `predictionId` (from "
                + "any predict path, or `{jobId}:{rowId}` for a batch job's row) or by `model` + `entityId` + `at` (the "
                + "entity's latest logged prediction at or before `at`, now when left out). `outcome` is the true class "
                + "for a classification (a string; a boolean for a true/false class) and a number for a regression.\n\n"
                + "Idempotent: the same outcome again changes nothing and is `unchanged`. A different outcome for a "
                + "prediction that already has one is a **409** naming `items[i].outcome`, and an outcome of the wrong "
                + "type for the prediction's task a **400** naming `items[i].outcome`; either way nothing is stored. An "
                + "item that matches no logged prediction is reported by its status and the others are stored: "
                + "`unknown`, `expired` (older than `PredictionLog:RetentionDays`) or `notSampled` (left out by "
                + "`PredictionLog:SampleRate`). Needs the `predict` scope, as the predict endpoints do.")
            .WithRequestExample(new FeedbackBody(
            [
                new FeedbackBodyItem(ExampleId, Outcome: JsonSerializer.SerializeToElement("true")),
                new FeedbackBodyItem(
                    Model: "churn",
                    EntityId: "customer-1042",
                    At: new DateTimeOffset(2026, 11, 27, 9, 30, 0, TimeSpan.Zero),
                    Outcome: JsonSerializer.SerializeToElement(false)),
            ]))
            .WithResponseExample(new FeedbackAnswer(1, 0, 1,
            [
                new FeedbackItemResult(0, FeedbackStatus.Recorded, ExampleId, "churn", "1.2.0"),
                new FeedbackItemResult(1, FeedbackStatus.Unknown, null, null, null),
            ]))
            .ProducesProblem(StatusCodes.Status409Conflict);

        api.MapGet("/models/{name}/outcomes", SummarizeAsync).WithTags("Feedback").WithName("GetOutcomes")
            .WithSummary("Live outcomes of a model's versions")
            .WithDescription(
                "The model's logged predictions over [`since`, `until`) joined with their feedback, one group per version "
                + "(and per experiment arm, when set): `count`, `withFeedback`, `errorRate`, `fallbackRate`, "
                + "`p95LatencyMs`, then by task `accuracy` and `logLoss` (classification), `auc` (binary, on the newest "
                + "`aucSampleRows` with feedback), `rmse` and `mae` (regression), with the sufficient statistics of each "
                + "loss (`n`, `sum`, `sumOfSquares`). `until` defaults to now and `since` to 24 hours before it. 404 for an "
                + "unknown model.")
            .WithResponseExample(new OutcomeSummary(
                "churn",
                new DateTimeOffset(2026, 11, 26, 9, 0, 0, TimeSpan.Zero),
                new DateTimeOffset(2026, 11, 27, 9, 0, 0, TimeSpan.Zero),
                [
                    new OutcomeGroup("1.2.0", null, null, OutcomeTask.BinaryClassification, 1200, 300, 2, 0, 0.0017, 0, 3.9, 0.84,
                        0.37, 0.91, null, null, new LossStatistics(300, 252, 252), new LossStatistics(300, 111, 98.2), null, null, 300),
                ]))
            .ProducesProblem(StatusCodes.Status404NotFound);
        return api;
    }

    private static async Task<Ok<FeedbackAnswer>> RecordAsync(
        FeedbackBody body,
        IDataModule data,
        IModelModule models,
        PredictionLogWriter log,
        IOptions<PredictionLogOptions> options,
        TimeProvider clock,
        CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        var items = new List<FeedbackItem>(body.Items!.Count);
        foreach (var item in body.Items)
        {
            var model = item.Model is null ? null : await ModelNameAsync(models, item.Model, names, ct);
            var outcome = item.Outcome!.Value;
            items.Add(new FeedbackItem(
                item.PredictionId,
                model,
                item.EntityId,
                item.At ?? now,
                outcome.ValueKind switch
                {
                    JsonValueKind.String => outcome.GetString(),
                    JsonValueKind.True => "true",
                    JsonValueKind.False => "false",
                    _ => null,
                },
                outcome.ValueKind == JsonValueKind.Number ? outcome.GetDouble() : null));
            if (item.PredictionId is { } id && BatchRowId(id) is var (jobId, rowId))
            {
                await LogBatchRowAsync(data, models, id, jobId, rowId, ct);
            }
        }

        // The log is written in batches off the request path: feedback for a prediction still queued waits for its row.
        if (items.Any(item => MadeAt(item) is { } at && log.MayHoldQueued(at)))
        {
            await log.FlushAsync(ct);
        }

        var results = await data.RecordFeedbackAsync(items, ct);
        var retention = now.AddDays(-options.Value.RetentionDays);
        var refined = results.Select(r => r.Status == FeedbackStatus.Unknown && items[r.Index].PredictionId is { } id
            ? r with { Status = NotFoundStatus(id, log, retention) }
            : r).ToList();
        return TypedResults.Ok(new FeedbackAnswer(
            refined.Count(r => r.Status == FeedbackStatus.Recorded),
            refined.Count(r => r.Status == FeedbackStatus.Unchanged),
            refined.Count(r => r.Status is not (FeedbackStatus.Recorded or FeedbackStatus.Unchanged)),
            refined));
    }

    private static async Task<Ok<OutcomeSummary>> SummarizeAsync(
        string name,
        [Description("The window's start (ISO 8601, inclusive); 24 hours before `until` by default.")] DateTimeOffset? since,
        [Description("The window's end (ISO 8601, exclusive); now by default.")] DateTimeOffset? until,
        IDataModule data,
        IModelModule models,
        IOptions<PredictionLogOptions> options,
        TimeProvider clock,
        CancellationToken ct)
    {
        var model = await models.GetModelAsync(name, ct);
        var end = until ?? clock.GetUtcNow();
        var summary = await data.SummarizeOutcomesAsync(model.Name, since ?? end.AddDays(-1), end, options.Value.AucSampleRows, ct);
        return TypedResults.Ok(summary);
    }

    /// <summary>A batch job row's id, <c>{jobId}:{rowId}</c>: the job and the source row, with nothing stored per row to make it.</summary>
    public static (string JobId, long RowId)? BatchRowId(string predictionId)
    {
        var colon = predictionId.LastIndexOf(':');
        return colon > 0 && long.TryParse(predictionId.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var row)
            ? (predictionId[..colon], row)
            : null;
    }

    /// <summary>
    /// A batch job's rows enter the log only when feedback names them: the row's stored prediction is logged (once,
    /// by its id) with the job's version, so the feedback then finds it as it finds any other prediction.
    /// </summary>
    private static async Task LogBatchRowAsync(
        IDataModule data,
        IModelModule models,
        string predictionId,
        string jobId,
        long rowId,
        CancellationToken ct)
    {
        if (await data.FindBatchPredictionAsync(jobId, rowId, ct) is not { } row)
        {
            return;
        }

        ModelVersionInfo version;
        try
        {
            version = await models.ResolveVersionAsync(row.Model, row.Version, null, ct);
        }
        catch (ModuleException ex) when (ex.Kind is ErrorKind.NotFound or ErrorKind.Invalid)
        {
            // The version was deleted since: its rows can no longer be scored.
            return;
        }

        var p = row.Prediction;
        await data.LogPredictionsAsync(
            [
                new LoggedPrediction(
                    predictionId, version.Name, version.Version, PredictionLogWriter.TaskOf(version.Task), row.PredictedAt,
                    p.Label, p.Value, p.Score, null, null, false, Source: "batch"),
            ],
            ct);
    }

    /// <summary>When the prediction an item names was made, if the item says: by its id's time, or the entity's <c>at</c>.</summary>
    private static DateTimeOffset? MadeAt(FeedbackItem item) => item.PredictionId is { } id ? IdTime(id) : item.At;

    /// <summary>A UUID v7 starts with its Unix time in milliseconds: the id says when it was made.</summary>
    private static DateTimeOffset? IdTime(string id)
    {
        if (!Guid.TryParse(id, out var guid) || guid.Version != 7)
        {
            return null;
        }

        var bytes = guid.ToByteArray(bigEndian: true);
        var ms = 0L;
        for (var i = 0; i < 6; i++)
        {
            ms = (ms << 8) | bytes[i];
        }

        return DateTimeOffset.FromUnixTimeMilliseconds(ms);
    }

    private static FeedbackStatus NotFoundStatus(string id, PredictionLogWriter log, DateTimeOffset retention)
    {
        if (IdTime(id) is not { } made)
        {
            return FeedbackStatus.Unknown;
        }

        return (made < retention, log.Sampled(id)) switch
        {
            (true, _) => FeedbackStatus.Expired,
            (false, false) => FeedbackStatus.NotSampled,
            _ => FeedbackStatus.Unknown,
        };
    }

    private static async Task<string> ModelNameAsync(
        IModelModule models,
        string name,
        Dictionary<string, string> names,
        CancellationToken ct)
    {
        if (names.TryGetValue(name, out var known))
        {
            return known;
        }

        try
        {
            known = (await models.GetModelAsync(name, ct)).Name;
        }
        catch (ModuleException ex) when (ex.Kind is ErrorKind.NotFound or ErrorKind.Invalid)
        {
            // No such model: the item matches nothing and is reported unknown.
            known = name;
        }

        names[name] = known;
        return known;
    }
}

internal sealed class FeedbackBodyValidator : AbstractValidator<FeedbackBody>
{
    public FeedbackBodyValidator()
    {
        RuleFor(b => b.Items).NotNull().WithMessage("items is required: a list of 1 to 1000 outcomes.")
            .Must(items => items is { Count: >= 1 and <= FeedbackEndpoints.MaxItems })
            .WithMessage("items holds 1 to 1000 outcomes.");
        RuleForEach(b => b.Items).NotNull().WithMessage("Each item is an object naming a prediction and its outcome.");
        RuleForEach(b => b.Items).ChildRules(item =>
        {
            item.RuleFor(i => i.PredictionId).Must(id => id is null || (id.Length is >= 1 and <= 300))
                .WithMessage("predictionId has 1 to 300 characters.");
            item.RuleFor(i => i.EntityId).Must(id => id is null || EntityKeys.IsValid(id)).WithMessage(EntityKeys.Rule);
            item.RuleFor(i => i).Must(i => (i.PredictionId is null) != (i.Model is null && i.EntityId is null))
                .OverridePropertyName("predictionId")
                .WithMessage("Name the prediction by predictionId, or by model and entityId (not both).");
            item.RuleFor(i => i.Model).NotEmpty().When(i => i.PredictionId is null && i.EntityId is not null)
                .WithMessage("model is required with entityId.");
            item.RuleFor(i => i.EntityId).NotEmpty().When(i => i.PredictionId is null && i.Model is not null)
                .WithMessage("entityId is required with model.");
            item.RuleFor(i => i.Outcome).Must(o => o?.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True
                    or JsonValueKind.False)
                .WithMessage("outcome is the true class (a string or a boolean) or the true number.");
        });
    }
}
