using System.Text.Json;
using FluentValidation;
using Formanova.Host.Workflows.Common;
using Formanova.Host.Workflows.Promotion;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.Http.HttpResults;
using Temporalio.Client;

namespace Formanova.Host.Workflows.Api;

internal sealed record PromotionBody(List<Dictionary<string, JsonElement>>? SmokeInputs = null);

internal sealed record PromotionView(string Id, string Status, SagaState? Saga, DateTime? StartedAt, DateTime? ClosedAt, string? Error);

internal static class PromotionEndpoints
{
    private const string ExampleId = "promotion-3c59dc048e8850243be8079a5c74d079";

    public static IEndpointRouteBuilder MapPromotionEndpoints(this IEndpointRouteBuilder api)
    {
        api.MapPost("/models/{name}/versions/{version}/promote", StartAsync).WithTags("Promotions").WithName("PromoteModelVersion")
            .WithMetadata(new RequiredScopeMetadata(ApiScopes.Admin)).WithIdempotencyKey()
            .WithSummary("Promote a model version")
            .WithDescription(
                "Starts a **ModelPromotionSaga** that makes the version the model's active one safely: check that it "
                + "loads, warm it, switch the active version and the `champion` alias to it, then smoke-test it with "
                + "`smokeInputs` (at most 20 rows of raw inputs; a probe row built from the version's schema when absent; "
                + "never from the cache). Success emits MODEL_ACTIVATED. When a step fails, the steps done are "
                + "compensated in reverse order (the previous version restored, the warmed model evicted), "
                + "MODEL_PROMOTION_ROLLED_BACK is emitted and the saga fails with the original error.\n\n"
                + "Answers **202** with `Location: /api/v1/promotions/{id}` to poll; 404 for an unknown model or version, "
                + "before any saga starts. **Idempotency:** with an `Idempotency-Key` a repeat returns the same saga; the "
                + "same key with another request is a 409.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithRequestExample(new PromotionBody(
            [
                new()
                {
                    ["tenure"] = JsonSerializer.SerializeToElement(12),
                    ["monthlyCharges"] = JsonSerializer.SerializeToElement(70.35),
                    ["contract"] = JsonSerializer.SerializeToElement("Month-to-month"),
                },
            ]))
            .WithResponseExample(
                new JobAccepted(ExampleId, "accepted", $"/api/v1/promotions/{ExampleId}"), StatusCodes.Status202Accepted);
        api.MapGet("/promotions/{id}", GetAsync).WithTags("Promotions").WithName("GetPromotion")
            .WithSummary("Get a promotion")
            .WithDescription(
                "The saga's run status and its state (`saga`): `running`, `compensating`, `completed`, `rolled-back` or "
                + "`cancelled`, "
                + "the current stage, the steps completed and compensated, the version that was active before, and the "
                + "errors; live while it runs, as stored once it has closed. 404 when no promotion has this id.")
            .WithResponseExample(new PromotionView(
                ExampleId,
                "completed",
                new SagaState("completed", null, ["check_load", "warm", "switch_active", "smoke_test", "emit_activated"], [],
                    "1.1.0", null, []),
                new DateTime(2026, 11, 27, 9, 0, 0, DateTimeKind.Utc),
                new DateTime(2026, 11, 27, 9, 0, 1, DateTimeKind.Utc),
                null));
        return api;
    }

    private static async Task<Accepted<JobAccepted>> StartAsync(
        string name,
        string version,
        PromotionBody? body,
        HttpContext http,
        WorkflowGateway gateway,
        IModelModule models,
        CancellationToken ct)
    {
        var id = await PromoteAsync(name, version, body, http, gateway, models, ct);
        return TypedResults.Accepted($"/api/v1/promotions/{id}", new JobAccepted(id, "accepted", $"/api/v1/promotions/{id}"));
    }

    /// <summary>Starts the saga for the version (the dashboard's promote button too) and returns its id.</summary>
    internal static async Task<string> PromoteAsync(
        string name,
        string version,
        PromotionBody? body,
        HttpContext http,
        WorkflowGateway gateway,
        IModelModule models,
        CancellationToken ct)
    {
        // 404 for an unknown version before a saga is started for it.
        await models.GetVersionAsync(name, version, ct);
        var id = await gateway.StartIdAsync("promotion", http, WorkflowGateway.HashOf(new { name, version, body }), ct);

        var input = new PromotionInput(name, version, body?.SmokeInputs, gateway.Policy());
        await gateway.StartAsync<ModelPromotionSaga, SagaState>(id, wf => wf.RunAsync(input), ct);
        return id;
    }

    private static async Task<Ok<PromotionView>> GetAsync(string id, WorkflowGateway gateway, IDataModule data, CancellationToken ct) =>
        TypedResults.Ok(await ViewAsync(gateway, data, id, null, ct));

    /// <summary>The saga as GET /promotions/{id} shows it; GET /jobs/{id} passes the description it already has.</summary>
    public static async Task<PromotionView> ViewAsync(
        WorkflowGateway gateway,
        IDataModule data,
        string id,
        WorkflowExecutionDescription? described,
        CancellationToken ct)
    {
        var run = await gateway.ReadRunAsync<ModelPromotionSaga, SagaState>(data, id, wf => wf.GetSagaState(), ct, described);
        var description = run.Description;
        if (run.Running)
        {
            return new PromotionView(id, run.Status, run.Live, description.StartTime, null, null);
        }

        var saga = run.Stored?.Output is { } output ? output.Deserialize<SagaState>(WorkflowJson.Options) : null;
        return new PromotionView(id, run.Status, saga, description.StartTime, description.CloseTime, run.Stored?.Error);
    }
}

internal sealed class PromotionBodyValidator : AbstractValidator<PromotionBody>
{
    public PromotionBodyValidator() =>
        RuleFor(b => b.SmokeInputs).Must(inputs => inputs is not { Count: > 20 }).WithMessage("At most 20 smoke inputs are accepted.");
}
