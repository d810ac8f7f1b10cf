using System.Security.Claims;
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
        api.MapGet("/keys/me", (ClaimsPrincipal user) => TypedResults.Ok(new AuthenticatedKey(
                user.FindFirstValue(ClaimTypes.NameIdentifier) ?? string.Empty,
                user.FindFirstValue(ClaimTypes.Name) ?? string.Empty,
                [.. user.FindAll(ApiScopes.ClaimType).Select(c => c.Value)])))
            .WithTags("API keys")
            .WithName("GetCallingApiKey")
            .WithSummary("The calling API key")
            .WithDescription(
                "The id, name and scopes of the key that sent the request, read from the verified key itself (no store "
                + "read): how a client checks that its key works and what it may do.")
            .WithResponseExample(AccessExamples.Me);

        var keys = api.MapGroup("/keys").WithTags("API keys").RequireScope(ApiScopes.Admin);

        keys.MapPost("/", async Task<Created<ApiKeyCreated>> (CreateApiKeyRequest request, IAccessModule access, CancellationToken ct) =>
            {
                var created = await access.CreateKeyAsync(request, ct);
                return TypedResults.Created($"/api/v1/keys/{created.Key.Id}", created);
            })
            .WithName("CreateApiKey")
            .WithSummary("Create an API key")
            .WithDescription(
                "Issues a key with a `name` (letters, digits, spaces and `. _ : -`, at most 100 characters), its `scopes` "
                + "(`read`, `predict`, `write`, `admin`; `admin` implies every other) and an optional `expiresAt` in the future. "
                + "The answer holds the `secret` (`fnv_` and 43 URL-safe characters): it is shown once and never again, since "
                + "only a salted hash is stored. Send it as `Authorization: Bearer <secret>` or `X-Api-Key: <secret>`. "
                + "`Location` names the key; names need not be unique, and a repeated request creates another key.")
            .WithRequestExample(AccessExamples.CreateRequest)
            .WithResponseExample(AccessExamples.Created, StatusCodes.Status201Created);

        keys.MapGet("/", async Task<Ok<IReadOnlyList<ApiKeyInfo>>> (IAccessModule access, CancellationToken ct) =>
                TypedResults.Ok(await access.ListKeysAsync(ct)))
            .WithName("ListApiKeys")
            .WithSummary("List API keys")
            .WithDescription(
                "Every key, revoked and expired ones included, newest first, with its scopes, creation, expiry and last use "
                + "(`lastUsedAt` is written at most once per `Auth:LastUsedResolutionSeconds`, 60 by default). Secrets are never "
                + "listed. Not paged.")
            .WithResponseExample(AccessExamples.Keys);

        keys.MapDelete("/{id}", async Task<Ok<ApiKeyInfo>> (string id, IAccessModule access, CancellationToken ct) =>
                TypedResults.Ok(await access.RevokeKeyAsync(id, ct)))
            .WithName("RevokeApiKey")
            .WithSummary("Revoke an API key")
            .WithDescription(
                "Revokes the key and returns it with `revoked: true`. It stops working at once on this instance, and within "
                + "`Auth:CacheSeconds` (30 by default) on other instances, which cache verified keys. Revoking a revoked key "
                + "is harmless and returns it again. The row is kept, so the key still shows in the list. **409** when the key "
                + "is the last active (unrevoked, unexpired) admin key: create another admin key first.")
            .WithResponseExample(AccessExamples.Revoked)
            .ProducesProblem(StatusCodes.Status409Conflict);
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
