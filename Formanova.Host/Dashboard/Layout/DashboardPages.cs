using Formanova.Host.Dashboard.Access;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Formanova.Host.Dashboard.Layout;

/// <summary>
/// How an endpoint answers with a page: a Razor component rendered on the server (Blazor's static rendering, no
/// interactive mode), given its frame (<see cref="PageChrome"/>) and its data as parameters.
/// </summary>
internal static class DashboardPages
{
    /// <summary>The frame for this request: its viewer, and an antiforgery token for this viewer's forms (the cookie is set now).</summary>
    public static PageChrome Chrome(HttpContext http, string section)
    {
        var tokens = http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);
        return new PageChrome(DashboardViewer.From(http.User), tokens.RequestToken ?? "", section);
    }

    public static IResult Page<TComponent>(object parameters, int status = StatusCodes.Status200OK)
        where TComponent : IComponent => new RazorComponentResult<TComponent>(parameters) { StatusCode = status };

    /// <summary>A page that only says something (not found, forbidden, refused), with its status.</summary>
    public static IResult Message(
        HttpContext http,
        int status,
        string heading,
        string message,
        bool bad = true) =>
        Page<MessagePage>(new { Chrome = Chrome(http, Sections.None), Heading = heading, Message = message, Bad = bad }, status);

    /// <summary>The HTTP status of a module's refusal, as the API answers it.</summary>
    public static int StatusOf(ErrorKind kind) => Api.ApiExceptionHandler.StatusOf(kind);

    /// <summary>The page a refused action or an unknown resource answers with, titled by what went wrong.</summary>
    public static IResult Problem(HttpContext http, ModuleException ex) => Message(
        http,
        StatusOf(ex.Kind),
        ex.Kind switch
        {
            ErrorKind.NotFound => "Not found",
            ErrorKind.Unavailable => "Unavailable",
            _ => "Refused",
        },
        ex.Message);

    /// <summary>The page of an action whose API endpoint needs a scope the key lacks: 403, and nothing was done.</summary>
    public static IResult Forbidden(HttpContext http, string action, string? scope) => Message(
        http,
        StatusCodes.Status403Forbidden,
        "Not allowed",
        $"'{action}' needs a key with the '{scope ?? "(unavailable)"}' scope, as its API endpoint does. Nothing was sent.");

    /// <summary>
    /// Makes a POST a dashboard form: the antiforgery token is checked by <see cref="AntiforgeryCheck"/> for every one, form
    /// fields or not, and answered with a page when it fails (the framework's own check covers only endpoints that bind form
    /// fields, and answers in JSON). An extension of the mapped endpoint rather than a MapPost wrapper taking a Delegate,
    /// so the request delegate generator sees each handler at its MapPost call and builds it at compile time.
    /// </summary>
    public static RouteHandlerBuilder AsForm(this RouteHandlerBuilder post) =>
        post.DisableAntiforgery().AddEndpointFilter<AntiforgeryCheck>();
}

/// <summary>Refuses a dashboard POST whose antiforgery token is missing, forged or another session's: 400, nothing done.</summary>
internal sealed class AntiforgeryCheck(IAntiforgery antiforgery) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return DashboardPages.Message(
                http,
                StatusCodes.Status400BadRequest,
                "Form refused",
                "The form did not come from this dashboard session (its antiforgery token is missing or not this session's), so "
                + "nothing was done. Reload the page and try again.");
        }

        return await next(context);
    }
}

/// <summary>
/// Headers of every dashboard response: a content security policy that lets a page load only this host's own stylesheet
/// and script and connect only back to it, and no caching of pages that show a key's view of the service.
/// </summary>
internal sealed class DashboardHeaders : IEndpointFilter
{
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'";

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var headers = context.HttpContext.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        // As the antiforgery token requires (it would override anything else, with a warning).
        headers.CacheControl = "no-cache, no-store";
        headers.Pragma = "no-cache";
        return next(context);
    }
}
