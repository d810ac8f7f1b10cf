using Formanova.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Host.Configuration;

[Category("Integration")]
public sealed class SettingsWatchTests
{
    [Test]
    public void Configuration_WhenTheHostStarts_WatchesNoSettingsFile()
    {
        using var factory = new FormanovaFactory([new("Model:Bootstrap:Enabled", "false")]);
        var configuration = (IConfigurationRoot)factory.Services.GetRequiredService<IConfiguration>();

        var files = configuration.Providers.OfType<JsonConfigurationProvider>().Select(p => p.Source).ToList();

        Assert.That(files, Is.Not.Empty);
        Assert.That(files.Where(s => s.ReloadOnChange).Select(s => s.Path), Is.Empty);
    }
}
