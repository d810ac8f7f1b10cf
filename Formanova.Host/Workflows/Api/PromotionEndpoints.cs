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
    public static IEndpointRouteBuilder MapPromotionEndpoints(this IEndpointRouteBuilder api)
    {
        api.MapPost("/models/{name}/versions/{version}/promote", StartAsync).WithTags("Promotions").WithName("PromoteModelVersion")
            .WithMetadata(new RequiredScopeMetadata(ApiScopes.Admin)).WithIdempotencyKey();
        api.MapGet("/promotions/{id}", GetAsync).WithTags("Promotions").WithName("GetPromotion");
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
        // 404 for an unknown version before a saga is started for it.
        await models.GetVersionAsync(name, version, ct);
        var id = await gateway.StartIdAsync("promotion", http, WorkflowGateway.HashOf(new { name, version, body }), ct);

        var input = new PromotionInput(name, version, body?.SmokeInputs, gateway.Policy());
        await gateway.StartAsync<ModelPromotionSaga, SagaState>(id, wf => wf.RunAsync(input), ct);
        return TypedResults.Accepted($"/api/v1/promotions/{id}", new JobAccepted(id, "accepted", $"/api/v1/promotions/{id}"));
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
