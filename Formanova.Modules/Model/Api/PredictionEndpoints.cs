using FluentValidation;
using Formanova.Modules.Shared;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Formanova.Modules.Model.Api;

/// <summary>
/// Input values arrive as JSON elements; the module converts and checks them against the version's input contract.
/// With <see cref="Strict"/> a key the model does not read is a 400 instead of an entry of <c>ignoredColumns</c>.
/// <see cref="EntityId"/> is logged with the prediction, for feedback by entity (docs/feedback.md);
/// <see cref="IncludeMembers"/> adds an ensemble's per-member answers (<c>members</c>).
/// </summary>
internal sealed record PredictBody(
    Dictionary<string, object?>? Inputs,
    string? Version = null,
    string? Alias = null,
    bool UseCache = true,
    bool Strict = false,
    string? EntityId = null,
    bool IncludeMembers = false);

/// <summary><see cref="EntityIds"/>, when given, holds one entity key (or null) per row.</summary>
internal sealed record PredictBatchBody(
    List<Dictionary<string, object?>>? Rows,
    string? Version = null,
    string? Alias = null,
    bool UseCache = true,
    bool Strict = false,
    List<string?>? EntityIds = null,
    bool IncludeMembers = false);

internal static class PredictionEndpoints
{
    public static IEndpointRouteBuilder MapPredictionEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var models = endpoints.MapGroup("/models").WithTags("Predictions").RequireScope(ApiScopes.Predict);

        models.MapPost("/{name}/predict", async (string name, PredictBody body, IModelModule module, CancellationToken ct) =>
            TypedResults.Ok(await module.PredictAsync(new PredictRequest(
                name,
                body.Inputs!,
                body.Version,
                body.Alias,
                body.UseCache,
                body.Strict,
                body.EntityId,
                body.IncludeMembers), ct)))
            .WithName("Predict")
            .WithSummary("Predict one row")
            .WithDescription(
                "Scores one row of raw inputs (the training dataset's columns, before transforms) with the model's active "
                + "version, or the `version` or `alias` named. Keys the model does not read (the label, ids, unknown "
                + "columns) are ignored and listed in `ignoredColumns`, or refused with `strict: true`. Answers from the "
                + "prediction cache unless `useCache` is false. When the active version fails and no version or alias was "
                + "named, the previous stable version answers and `fallbackFrom` names the failed one; **422** when the "
                + "version that must answer is not an ML.NET model its schema can load. Runs in the request: no workflow "
                + "is started. `predictionId` names the answer for `POST /feedback`; `entityId` (optional) is logged with "
                + "it, so feedback can name the entity instead. An ensemble version answers "
                + "with its combined prediction; `includeMembers: true` adds `members`, each member's answer (with `fallbackFrom` "
                + "when its model's previous stable version stood in).")
            .WithRequestExample(new PredictBody(new() { ["tenure"] = 12, ["monthlyCharges"] = 70.35, ["contract"] = "Month-to-month" }))
            .WithResponseExample(ModelExamples.Prediction(1.52, 0.82, cached: false))
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        models.MapPost("/{name}/predict/batch", async (string name, PredictBatchBody body, IModelModule module, CancellationToken ct) =>
            TypedResults.Ok(await module.PredictBatchAsync(new PredictBatchRequest(
                name,
                body.Rows?.Cast<IReadOnlyDictionary<string, object?>>().ToList() ?? [],
                body.Version,
                body.Alias,
                body.UseCache,
                body.Strict,
                body.EntityIds,
                body.IncludeMembers), ct)))
            .WithName("PredictBatch")
            .WithSummary("Predict a batch of rows")
            .WithDescription(
                "Scores up to `Model:Inference:MaxBatchRows` rows (10,000 by default; more is a 413) in one call, in parallel "
                + "on pooled engines, with the model's active version or the `version` or `alias` named; `predictions` keep "
                + "the order of `rows`. Every row is checked first: one invalid row is a 400 naming `rows[i].column`, and "
                + "nothing is predicted. Keys the model does not read are listed once, in `ignoredColumns` (or refused with "
                + "`strict: true`). Each row is looked up in the prediction cache unless `useCache` is false; `cachedCount` "
                + "says how many answered from it. When the active version fails and no version or alias was named, the "
                + "previous stable version answers and `fallbackFrom` names the failed one. Runs in the request: for a "
                + "whole dataset, submit a batch job instead. **422** as for a single prediction. Each prediction has its "
                + "own `predictionId`; `entityIds` (optional) gives one entity key (or null) per row. `includeMembers: true` "
                + "adds an ensemble's per-member answers to each prediction.")
            .WithRequestExample(ModelExamples.BatchRequest)
            .WithResponseExample(ModelExamples.BatchResult)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        return endpoints;
    }
}

internal sealed class PredictBodyValidator : AbstractValidator<PredictBody>
{
    public PredictBodyValidator()
    {
        RuleFor(b => b.Inputs).NotNull().WithMessage("An object of input values is required.");
        RuleFor(b => b.EntityId).Must(id => id is null || EntityKeys.IsValid(id)).WithMessage(EntityKeys.Rule);
    }
}

internal sealed class PredictBatchBodyValidator : AbstractValidator<PredictBatchBody>
{
    public PredictBatchBodyValidator()
    {
        RuleFor(b => b.EntityIds).Must((b, ids) => ids is null || ids.Count == (b.Rows?.Count ?? 0))
            .WithMessage("entityIds must hold one entity key (or null) per row.");
        RuleForEach(b => b.EntityIds).Must(id => id is null || EntityKeys.IsValid(id)).WithMessage(EntityKeys.Rule);
    }
}
