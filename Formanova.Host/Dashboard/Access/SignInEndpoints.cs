using Formanova.Host.Dashboard.Layout;
using Formanova.Modules.Access;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;

namespace Formanova.Host.Dashboard.Access;

/// <summary>The sign-in form, the exchange of a key for a session, and the sign-out.</summary>
internal static class SignInEndpoints
{
    public static IEndpointRouteBuilder MapSignIn(this IEndpointRouteBuilder ui)
    {
        ui.MapGet("/sign-in", (HttpContext http, string? returnUrl, DashboardSession session) =>
                Form(http, session, DashboardPaths.LocalReturn(returnUrl), null, StatusCodes.Status200OK))
            .AllowAnonymous();
        // The request delegate generator cannot bind a [FromForm] class; this one endpoint is built at run time as before.
#pragma warning disable RDG003
        ui.MapPost("/sign-in", SignInAsync).AsForm().AllowAnonymous();
#pragma warning restore RDG003
        ui.MapPost("/sign-out", async (HttpContext http) =>
        {
            await http.SignOutAsync(DashboardSession.Scheme);
            return Results.Redirect(DashboardPaths.SignIn);
        }).AsForm();
        ui.MapGet("/forbidden", (HttpContext http) => DashboardPages.Message(
                http,
                StatusCodes.Status403Forbidden,
                "Not allowed",
                "This key lacks the scope this page needs. Sign in with a key that has it."))
            .AllowAnonymous();
        return ui;
    }

    /// <summary>
    /// Checks the key exactly as the API does (<see cref="IAccessModule.AuthenticateAsync"/>) and opens a session for it. A
    /// key without the read scope gets no session: the dashboard would have nothing it may show it.
    /// </summary>
    private static async Task<IResult> SignInAsync(
        HttpContext http,
        [FromForm] SignInForm form,
        IAccessModule access,
        DashboardSession session,
        CancellationToken ct)
    {
        var returnUrl = DashboardPaths.LocalReturn(form.ReturnUrl);
        if (!session.AuthenticationEnabled)
        {
            var (anyone, open) = session.OpenUnauthenticated();
            await http.SignInAsync(DashboardSession.Scheme, anyone, open);
            return Results.Redirect(returnUrl);
        }

        var key = string.IsNullOrWhiteSpace(form.Key) ? null : await access.AuthenticateAsync(form.Key.Trim(), ct);
        if (key is null)
        {
            return Form(http, session, returnUrl, "The API key is invalid, revoked or expired.", StatusCodes.Status401Unauthorized);
        }

        if (!key.Scopes.Contains(ApiScopes.Read) && !key.Scopes.Contains(ApiScopes.Admin))
        {
            return Form(
                http,
                session,
                returnUrl,
                $"The key '{key.Name}' lacks the read scope, and the dashboard shows nothing without it.",
                StatusCodes.Status403Forbidden);
        }

        var stored = await access.GetKeyAsync(key.Id, ct);
        var (principal, properties) = session.Open(key, stored?.ExpiresAt);
        await http.SignInAsync(DashboardSession.Scheme, principal, properties);
        return Results.Redirect(returnUrl);
    }

    private static IResult Form(HttpContext http, DashboardSession session, string returnUrl, string? error, int status) =>
        DashboardPages.Page<SignInPage>(
            new
            {
                Chrome = DashboardPages.Chrome(http, Sections.None) with { Viewer = null },
                ReturnUrl = returnUrl,
                Error = error,
                AuthenticationDisabled = !session.AuthenticationEnabled,
            },
            status);
}

/// <summary>The sign-in form's fields (settable properties: the form binder needs no constructor value for an absent field).</summary>
internal sealed class SignInForm
{
    public string? Key { get; set; }

    public string? ReturnUrl { get; set; }
}
