using System.Security.Claims;
using Formanova.Host.Dashboard.Layout;
using Formanova.Host.Security;

namespace Formanova.Host.Dashboard.Access;

/// <summary>The signed-in key as the session's claims carry it.</summary>
internal static class DashboardViewer
{
    /// <summary>The viewer of a request with a dashboard session, or null.</summary>
    public static Viewer? From(ClaimsPrincipal user) =>
        user.Identity is { IsAuthenticated: true, AuthenticationType: DashboardSession.Scheme }
            ? new Viewer(
                user.FindFirstValue(ClaimTypes.NameIdentifier) ?? "",
                user.FindFirstValue(ClaimTypes.Name) ?? "",
                [.. user.FindAll(ApiKeyAuthenticationHandler.ScopeClaim).Select(c => c.Value)])
            : null;

    /// <summary>Whether the key carries <paramref name="scope"/>, by the API's own rule (admin carries every scope).</summary>
    public static bool HasScope(ClaimsPrincipal user, string scope) => ScopeRequirement.Grants(user, scope);
}
