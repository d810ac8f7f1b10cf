using FluentValidation;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Formanova.Modules.Access.Api;

internal static class KeyEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        var keys = api.MapGroup("/keys").WithTags("API keys").RequireScope(ApiScopes.Admin);

        keys.MapPost("/", async Task<Created<ApiKeyCreated>> (CreateApiKeyRequest request, IAccessModule access, CancellationToken ct) =>
            {
                var created = await access.CreateKeyAsync(request, ct);
                return TypedResults.Created($"/api/v1/keys/{created.Key.Id}", created);
            })
            .WithName("CreateApiKey")
            .WithSummary("Create an API key; the secret is returned once and never again.");

        keys.MapGet("/", async Task<Ok<IReadOnlyList<ApiKeyInfo>>> (IAccessModule access, CancellationToken ct) =>
                TypedResults.Ok(await access.ListKeysAsync(ct)))
            .WithName("ListApiKeys");

        keys.MapDelete("/{id}", async Task<Ok<ApiKeyInfo>> (string id, IAccessModule access, CancellationToken ct) =>
                TypedResults.Ok(await access.RevokeKeyAsync(id, ct)))
            .WithName("RevokeApiKey")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Revoke an API key. It stops working at once on this instance, and within Auth:CacheSeconds on others.");
    }
}

internal sealed class CreateApiKeyRequestValidator : AbstractValidator<CreateApiKeyRequest>
{
    public CreateApiKeyRequestValidator(TimeProvider clock)
    {
        RuleFor(r => r.Name).NotEmpty().MaximumLength(100).Matches("^[\\p{L}\\p{N} ._:-]+$")
            .WithMessage("'name' may contain letters, digits, spaces and . _ : - only.");
        RuleFor(r => r.Scopes).NotEmpty().Must(s => s.Count <= ApiScopes.All.Count);
        RuleForEach(r => r.Scopes).Must(s => ApiScopes.All.Contains(s))
            .WithMessage($"Each scope must be one of: {string.Join(", ", ApiScopes.All)}.");
        RuleFor(r => r.ExpiresAt).Must(e => e is null || e > clock.GetUtcNow())
            .WithMessage("'expiresAt' must be in the future.");
    }
}
