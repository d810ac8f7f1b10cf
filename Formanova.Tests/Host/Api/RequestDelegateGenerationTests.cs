using Formanova.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Host.Api;

/// <summary>
/// Every minimal-API endpoint's request delegate is written at build time by the request delegate generator, not
/// compiled from expression trees at start-up: the run-time path compiled about 430 delegates on every start, a
/// third of the time to ready (docs/benchmarks.md, the shipped host, "Start-up").
/// </summary>
[Category("Integration")]
public sealed class RequestDelegateGenerationTests
{
    // The one endpoint the generator cannot build: it binds a [FromForm] class (RDG003), so it is built at run time.
    private static readonly string[] BuiltAtRunTime = ["HTTP: POST /ui/sign-in => SignInAsync"];

    [Test]
    public void Endpoints_WhenTheHostIsBuilt_HaveRequestDelegatesTheGeneratorWrote()
    {
        using var factory = new FormanovaFactory([new("Model:Bootstrap:Enabled", "false")]);

        var handlers = factory.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<System.Reflection.MethodInfo>() is not null)
            .ToList();
        var atRunTime = handlers.Where(e => !Generated(e.RequestDelegate!)).Select(e => e.DisplayName).ToList();

        Assert.That(handlers, Has.Count.GreaterThan(100));
        Assert.That(atRunTime, Is.EquivalentTo(BuiltAtRunTime));
    }

    private static bool Generated(RequestDelegate handler) =>
        handler.Method.DeclaringType?.FullName?.Contains("GeneratedRouteBuilderExtensionsCore", StringComparison.Ordinal) == true;
}
