namespace Formanova.Host.Security;

/// <summary>
/// Headers every API response carries. Responses to requests that carried a key are marked no-store, so
/// a shared cache never keeps one tenant's data for another.
/// </summary>
internal sealed class SecurityHeadersMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            if (ApiKeyAuthenticationHandler.ReadKey(context.Request) is not null)
            {
                headers.CacheControl = "no-store";
            }

            return Task.CompletedTask;
        });
        return next(context);
    }
}
