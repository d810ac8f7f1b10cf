using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Dashboard.Access;

/// <summary>
/// The dashboard's own authentication scheme (a session cookie scoped to <c>/ui</c>) and its read policy. The API's
/// policies name the API-key scheme alone, so the cookie never authenticates <c>/api</c>: a browser session cannot be
/// ridden into the API, and the API keeps needing a key on every request.
/// </summary>
internal static class DashboardAuthentication
{
    public const string ReadPolicy = "dashboard:read";
    public const string AntiforgeryCookieName = "formanova-ui-antiforgery";

    public static IServiceCollection AddDashboardAuthentication(this IServiceCollection services)
    {
        services.AddSingleton<DashboardSession>();
        services.AddScoped<DashboardCookieEvents>();
        services.AddAuthentication().AddCookie(DashboardSession.Scheme);
        services.AddOptions<CookieAuthenticationOptions>(DashboardSession.Scheme).Configure<IOptions<DashboardOptions>>((cookie, options) =>
        {
            var settings = options.Value;
            cookie.Cookie.Name = DashboardSession.CookieName;
            cookie.Cookie.Path = DashboardPaths.Root;
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = SameSiteMode.Strict;
            cookie.Cookie.SecurePolicy = SecurePolicy(settings);
            cookie.ExpireTimeSpan = TimeSpan.FromMinutes(settings.SessionMinutes);
            cookie.SlidingExpiration = settings.SlidingExpiration;
            cookie.LoginPath = DashboardPaths.SignIn;
            cookie.AccessDeniedPath = DashboardPaths.Forbidden;
            cookie.ReturnUrlParameter = "returnUrl";
            cookie.EventsType = typeof(DashboardCookieEvents);
        });

        services.AddAntiforgery();
        services.AddOptions<AntiforgeryOptions>().Configure<IOptions<DashboardOptions>>((antiforgery, options) =>
        {
            antiforgery.Cookie.Name = AntiforgeryCookieName;
            antiforgery.Cookie.Path = DashboardPaths.Root;
            antiforgery.Cookie.SameSite = SameSiteMode.Strict;
            antiforgery.Cookie.SecurePolicy = SecurePolicy(options.Value);
            antiforgery.FormFieldName = DashboardPaths.TokenField;
            // The security headers already deny framing altogether.
            antiforgery.SuppressXFrameOptionsHeader = true;
        });

        services.AddAuthorizationBuilder().AddPolicy(ReadPolicy, policy => policy
            .AddAuthenticationSchemes(DashboardSession.Scheme)
            .RequireAuthenticatedUser()
            .RequireAssertion(context => DashboardViewer.HasScope(context.User, ApiScopes.Read)));
        return services;
    }

    private static CookieSecurePolicy SecurePolicy(DashboardOptions settings) => settings.CookieSecure == DashboardCookieSecurity.Always
        ? CookieSecurePolicy.Always
        : CookieSecurePolicy.SameAsRequest;
}

/// <summary>
/// Checks each request's session (<see cref="DashboardSession.ValidateAsync"/>). A page without a session is sent to the
/// sign-in form; a live stream or an asset gets a bare 401 or 403, as a redirect to a form would mean nothing to it.
/// </summary>
internal sealed class DashboardCookieEvents(DashboardSession session) : CookieAuthenticationEvents
{
    public override Task ValidatePrincipal(CookieValidatePrincipalContext context) => session.ValidateAsync(context);

    public override Task RedirectToLogin(RedirectContext<CookieAuthenticationOptions> context)
    {
        if (DashboardPaths.IsBackground(context.Request))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Task.CompletedTask;
        }

        return base.RedirectToLogin(context);
    }

    public override Task RedirectToAccessDenied(RedirectContext<CookieAuthenticationOptions> context)
    {
        if (DashboardPaths.IsBackground(context.Request))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return Task.CompletedTask;
        }

        return base.RedirectToAccessDenied(context);
    }
}
