using System.Collections.Frozen;
using System.Security.Claims;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.Authorization;

namespace Formanova.Host.Security;

/// <summary>
/// A scope policy's only requirement: the key grants the scope, or admin. It is its own handler (ASP.NET Core's
/// pass-through handler runs it), and it reads the scope set that <see cref="ApiKeyIdentity"/> keeps rather than
/// enumerating claims: a policy check ran on every API request and allocated an enumerator per identity and claim.
/// An anonymous caller fails it, which the policy evaluator answers with a challenge (401) rather than a 403.
/// </summary>
internal sealed class ScopeRequirement(string scope) : AuthorizationHandler<ScopeRequirement>, IAuthorizationRequirement
{
    public string Scope { get; } = scope;

    public static bool Grants(ClaimsPrincipal user, string scope) => user.Identity is ApiKeyIdentity key
        ? key.Grants(scope)
        : user.HasClaim(ApiScopes.ClaimType, scope) || user.HasClaim(ApiScopes.ClaimType, ApiScopes.Admin);

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        if (Grants(context.User, requirement.Scope))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>An API key's identity: its claims as any identity has them, and its scopes as a set for the policy check.</summary>
internal sealed class ApiKeyIdentity(IEnumerable<Claim> claims, string authenticationType, IEnumerable<string> scopes)
    : ClaimsIdentity(claims, authenticationType)
{
    private readonly FrozenSet<string> _scopes = scopes.ToFrozenSet(StringComparer.Ordinal);

    public bool Grants(string scope) => _scopes.Contains(scope) || _scopes.Contains(ApiScopes.Admin);
}
