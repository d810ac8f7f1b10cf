using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Support;

/// <summary>The host's /api endpoints from its routing table, for tests that must cover endpoints added later too.</summary>
internal static partial class ApiRoutes
{
    public static IReadOnlyList<RouteEndpoint> Endpoints(IServiceProvider services) =>
        services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.TrimStart('/').StartsWith("api/", StringComparison.Ordinal) == true)
            .ToList();

    /// <summary>A path for the endpoint whose route values satisfy their constraints (1 for a long, x otherwise); what they name need not
    /// exist.</summary>
    public static string Path(RouteEndpoint endpoint) =>
        "/" + RouteValue().Replace(endpoint.RoutePattern.RawText!.TrimStart('/'), v => v.Groups["long"].Success ? "1" : "x");

    [GeneratedRegex("\\{[^}:]+(?<long>:long)?\\}")]
    private static partial Regex RouteValue();
}
