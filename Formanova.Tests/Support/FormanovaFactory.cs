using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Formanova.Tests.Support;

/// <summary>
/// The real Formanova host (Program.cs) in memory, on its own temporary data directory. Settings given to the
/// constructor override appsettings.json, exactly as environment variables would in a deployment.
/// </summary>
internal sealed class FormanovaFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    public FormanovaFactory(IEnumerable<KeyValuePair<string, string?>>? settings = null)
    {
        DataDirectory = Directory.CreateTempSubdirectory("formanova-host-").FullName;
        _settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Formanova:DataDirectory"] = DataDirectory,
        };
        foreach (var (key, value) in settings ?? [])
        {
            _settings[key] = value;
        }
    }

    public string DataDirectory { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");

        // UseSetting rather than ConfigureAppConfiguration: Program.cs reads some keys while it registers
        // services, before app-configuration callbacks would run.
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the folder is under the OS temp directory.
        }
    }
}
