using Formanova.Tests.Support.Conformance;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Support;

/// <summary>
/// The real Formanova host (Program.cs) in memory, on its own temporary data directory. Settings given to the
/// constructor override appsettings.json, exactly as environment variables would in a deployment.
/// </summary>
internal sealed class FormanovaFactory : WebApplicationFactory<Program>
{
    /// <summary>The admin key every factory installs (Auth:BootstrapKey); <c>CreateClient</c> sends it.</summary>
    public const string AdminKey = "fnv_test-admin-key-0123456789abcdef";

    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _configureServices;

    /// <param name="settings">Overrides of appsettings.json, applied as environment variables would be.</param>
    /// <param name="configureServices">Test doubles (e.g. a fake TimeProvider), registered after the app's own services.</param>
    public FormanovaFactory(
        IEnumerable<KeyValuePair<string, string?>>? settings = null,
        Action<IServiceCollection>? configureServices = null)
    {
        DataDirectory = Directory.CreateTempSubdirectory("formanova-host-").FullName;
        _configureServices = configureServices;

        // Rate limits are off unless a test turns them on: suites fire bursts that are not what they test.
        _settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Formanova:DataDirectory"] = DataDirectory,
            ["Auth:BootstrapKey"] = AdminKey,
            ["RateLimiting:Enabled"] = "false",
            // Every host runs the embedded Temporal server: on a free port, so parallel runs never collide.
            ["Temporal:Embedded:Port"] = "0",
            ["Temporal:Embedded:StoragePath"] = ":memory:",
            // The service runs without the SDK's task-scheduler guard (it taxes every await); the tests run every
            // workflow with it, so workflow code that escapes the workflow scheduler fails here.
            ["Temporal:DetectWorkflowTaskEscapes"] = "true",
            // A test that ends with an activity under way does not wait out the drain (WorkerDrainDrillTests tests it).
            ["Temporal:GracefulShutdownSeconds"] = "0",
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

        builder.ConfigureTestServices(services =>
        {
            // First of the startup filters, so the check wraps the whole pipeline (ConformanceSetUpFixture reports it).
            services.Insert(0, ServiceDescriptor.Singleton<IStartupFilter, ConformanceStartupFilter>());
            _configureServices?.Invoke(services);
        });
    }

    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminKey);
    }

    /// <summary>A client that sends <paramref name="key"/> (or no key at all when null).</summary>
    public HttpClient CreateClientWithKey(string? key)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = key is null
            ? null
            : new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return client;
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
