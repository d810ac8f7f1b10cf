using Formanova.Host.Temporal;

namespace Formanova.Host.Workflows;

/// <summary>
/// In front of every workflow endpoint: while Temporal is unreachable the request answers 503 (ProblemDetails with
/// Retry-After) within the connect timeout, and a call that fails to reach Temporal midway answers the same 503, not
/// a 500. It runs after the group's validation, so a malformed request is still a 400.
/// </summary>
internal sealed class TemporalRequiredFilter(TemporalAvailability temporal) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var aborted = context.HttpContext.RequestAborted;
        await temporal.EnsureReachableAsync(aborted);
        try
        {
            var result = await next(context);
            temporal.Answered();
            return result;
        }
        catch (Exception ex) when (TemporalAvailability.IsUnreachable(ex) && !aborted.IsCancellationRequested)
        {
            temporal.Failed(ex);
            throw TemporalAvailability.Unavailable();
        }
    }
}
