using Formanova.Host.Temporal;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Formanova.Tests.Host.Temporal;

[Category("Integration")]
public sealed class TemporalSetupTests
{
    [TestCase("worker")]
    [TestCase("api,worker")]
    public void ShutdownTimeout_WhenTheHostRunsTheWorker_OutlastsItsDrain(string roles)
    {
        using var factory = Factory(roles);

        var host = factory.Services.GetRequiredService<IOptions<HostOptions>>().Value;

        Assert.That(host.ShutdownTimeout, Is.EqualTo(TimeSpan.FromSeconds(100 + TemporalOptions.ShutdownMarginSeconds)));
    }

    [Test]
    public void ShutdownTimeout_WhenTheHostRunsNoWorker_KeepsTheFrameworkDefault()
    {
        using var factory = Factory("api");

        var host = factory.Services.GetRequiredService<IOptions<HostOptions>>().Value;

        Assert.That(host.ShutdownTimeout, Is.EqualTo(new HostOptions().ShutdownTimeout));
    }

    private static FormanovaFactory Factory(string roles) =>
        new([new("Formanova:Roles", roles), new("Temporal:GracefulShutdownSeconds", "100"), new("Model:Bootstrap:Enabled", "false")]);
}
