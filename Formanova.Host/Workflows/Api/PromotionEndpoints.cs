using System.Text.Json;
using Formanova.Host.Workflows.Common;
using Formanova.Host.Workflows.Promotion;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Http.HttpResults;
using Temporalio.Api.Enums.V1;

namespace Formanova.Host.Workflows.Api;

internal sealed record PromotionBody(List<Dictionary<string, JsonElement>>? SmokeInputs = null);

internal sealed record PromotionView(string Id, string Status, SagaState? Saga, DateTime? StartedAt, DateTime? ClosedAt, string? Error);

internal static class PromotionEndpoints
{
    private static readonly string Type = nameof(ModelPromotionSaga);

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
        if (body?.SmokeInputs is { Count: > 20 })
        {
            throw ModuleException.Invalid("smokeInputs", "At most 20 smoke inputs are accepted.");
        }

        var id = await gateway.StartIdAsync("promotion", http, WorkflowGateway.HashOf(new { name, version, body }), ct);

        var input = new PromotionInput(name, version, body?.SmokeInputs, gateway.Policy());
        await gateway.StartAsync<ModelPromotionSaga, SagaState>(id, wf => wf.RunAsync(input), ct);
        return TypedResults.Accepted($"/api/v1/promotions/{id}", new JobAccepted(id, "accepted", $"/api/v1/promotions/{id}"));
    }

    private static async Task<Ok<PromotionView>> GetAsync(string id, WorkflowGateway gateway, IDataModule data, CancellationToken ct)
    {
        var description = await gateway.DescribeAsync(id, Type, ct);
        var status = WorkflowGateway.StatusName(description.Status);
        if (description.Status == WorkflowExecutionStatus.Running)
        {
            return TypedResults.Ok(new PromotionView(
                id,
                status,
                await gateway.TryQueryAsync<SagaState>(id, "get_saga_state", ct),
                description.StartTime,
                null,
                null));
        }

        var stored = (await data.QueryResultsAsync(new ResultQuery(JobId: id, Limit: 10), ct)).Items
            .FirstOrDefault(r => r.Step == "result");
        var saga = stored?.Output is { } output ? output.Deserialize<SagaState>(WorkflowJson.Options) : null;
        return TypedResults.Ok(new PromotionView(id, status, saga, description.StartTime, description.CloseTime, stored?.Error));
    }
}
