using System.Globalization;
using System.Security.Claims;
using Formanova.Host.Security;
using Formanova.Modules.Access;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Dashboard.Access;

/// <summary>
/// The dashboard's session: a cookie that carries the signed-in key's id, name and scopes (never the key itself), with
/// the store asked again at most every <see cref="DashboardOptions.KeyRecheckSeconds"/> whether the key still stands.
/// </summary>
internal sealed class DashboardSession(
    IAccessModule access,
    IOptions<DashboardOptions> options,
    IOptions<AuthOptions> auth,
    TimeProvider time)
{
    public const string Scheme = "Dashboard";
    public const string CookieName = "formanova-ui";

    /// <summary>The id a session carries when Auth:Enabled is false, where the API treats every request as an admin.</summary>
    public const string AuthDisabledId = "auth-disabled";

    private const string CheckedAt = "formanova.checked";
    private const string EndsAt = "formanova.ends";

    /// <summary>A session for <paramref name="key"/>: its id, name and scopes, checked against the store as of now.</summary>
    public (ClaimsPrincipal Principal, AuthenticationProperties Properties) Open(AuthenticatedKey key, DateTimeOffset? keyExpiresAt)
    {
        var now = time.GetUtcNow();
        var settings = options.Value;
        var properties = new AuthenticationProperties { IsPersistent = false, AllowRefresh = true };
        properties.Items[CheckedAt] = now.ToString("O", CultureInfo.InvariantCulture);
        DateTimeOffset? ends = settings.SlidingExpiration ? null : now.AddMinutes(settings.SessionMinutes);
        if (keyExpiresAt is { } expires && (ends is null || expires < ends))
        {
            ends = expires;
        }

        if (ends is { } end)
        {
            // Renewals re-issue the cookie with a fresh lifetime; this end stands whatever they do.
            properties.Items[EndsAt] = end.ToString("O", CultureInfo.InvariantCulture);
        }

        return (Principal(key.Id, key.Name, key.Scopes), properties);
    }

    /// <summary>The session of Auth:Enabled=false: an admin, as every API request is then.</summary>
    public (ClaimsPrincipal Principal, AuthenticationProperties Properties) OpenUnauthenticated() =>
        Open(new AuthenticatedKey(AuthDisabledId, "authentication disabled", [ApiScopes.Admin]), null);

    public bool AuthenticationEnabled => auth.Value.Enabled;

    /// <summary>
    /// The cookie handler's check of every request's session: past its end, or due for a re-check and its key revoked,
    /// expired or gone, the session is rejected and its cookie removed.
    /// </summary>
    public async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        var now = time.GetUtcNow();
        var items = context.Properties.Items;
        if (items.TryGetValue(EndsAt, out var endsText) && Parse(endsText) is { } ends && ends <= now)
        {
            await RejectAsync(context);
            return;
        }

        var checkedAt = items.TryGetValue(CheckedAt, out var checkedText) ? Parse(checkedText) : null;
        if (checkedAt is { } last && now - last < TimeSpan.FromSeconds(options.Value.KeyRecheckSeconds) && now >= last)
        {
            return;
        }

        if (!await StandsAsync(context.Principal, context.HttpContext.RequestAborted))
        {
            await RejectAsync(context);
            return;
        }

        items[CheckedAt] = now.ToString("O", CultureInfo.InvariantCulture);
        context.ShouldRenew = true;
    }

    /// <summary>Whether the session's key is still in the store, unrevoked and unexpired (a long-lived stream asks this itself).</summary>
    public async Task<bool> StandsAsync(ClaimsPrincipal? principal, CancellationToken cancellationToken)
    {
        var id = principal?.FindFirstValue(ClaimTypes.NameIdentifier);
        if (id is null)
        {
            return false;
        }

        if (id == AuthDisabledId)
        {
            return !auth.Value.Enabled;
        }

        var key = await access.GetKeyAsync(id, cancellationToken);
        return key is { Revoked: false } && (key.ExpiresAt is null || key.ExpiresAt > time.GetUtcNow());
    }

    private static async Task RejectAsync(CookieValidatePrincipalContext context)
    {
        context.RejectPrincipal();
        await context.HttpContext.SignOutAsync(Scheme);
    }

    private static DateTimeOffset? Parse(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var value) ? value : null;

    private static ClaimsPrincipal Principal(string id, string name, IEnumerable<string> scopes)
    {
        var claims = new List<Claim> { new(ClaimTypes.NameIdentifier, id), new(ClaimTypes.Name, name) };
        claims.AddRange(scopes.Select(s => new Claim(ApiKeyAuthenticationHandler.ScopeClaim, s)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, Scheme));
    }
}
