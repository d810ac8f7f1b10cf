using System.Diagnostics;
using System.Net.Http.Headers;

namespace Formanova.Tests.Support;

/// <summary>
/// The built Formanova.Host as a real child process (<c>dotnet Formanova.Host.dll</c>) on a free loopback port,
/// configured through environment variables as a deployment would be, so a drill can SIGKILL it and start it
/// again on the same data. <see cref="FormanovaFactory"/> runs the host in the test's own process, where no
/// SIGKILL is possible.
/// </summary>
internal sealed class HostProcess : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private HostProcess(ChildProcess process, int port)
    {
        _process = process;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", FormanovaFactory.AdminKey);
    }

    /// <summary>A client that sends the admin key (<see cref="FormanovaFactory.AdminKey"/>, installed as Auth:BootstrapKey).</summary>
    public HttpClient Client { get; }

    /// <summary>Starts the host on <paramref name="dataDirectory"/> and returns once /health/ready answers 200.</summary>
    public static async Task<HostProcess> StartAsync(string dataDirectory, IEnumerable<KeyValuePair<string, string?>> settings)
    {
        var port = LocalProcesses.FreePort();
        var info = new ProcessStartInfo("dotnet", ["exec", Path.Combine(AppContext.BaseDirectory, "Formanova.Host.dll")])
        {
            WorkingDirectory = dataDirectory,
        };
        var environment = new Dictionary<string, string?>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["ASPNETCORE_ENVIRONMENT"] = "Testing",
            ["Formanova:DataDirectory"] = dataDirectory,
            ["Auth:BootstrapKey"] = FormanovaFactory.AdminKey,
            ["RateLimiting:Enabled"] = "false",
            ["Temporal:Embedded:Port"] = "0",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft.AspNetCore.HttpLogging.HttpLoggingMiddleware"] = "Warning",
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var host = new HostProcess(ChildProcess.Start(info), port);
        try
        {
            await LocalProcesses.UntilAsync(host.ReadyAsync, TimeSpan.FromSeconds(90), $"the host on port {port} to be ready");
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>Every line the host has written to stdout.</summary>
    public IReadOnlyCollection<string> Output => _process.Output;

    /// <summary>SIGKILL: no shutdown hook runs, nothing is flushed or committed.</summary>
    public Task KillAsync() => _process.KillAsync();

    /// <summary>SIGTERM: the host stops as in a scale-in (<see cref="ExitAsync"/> waits for it).</summary>
    public Task TerminateAsync() => _process.TerminateAsync();

    public Task<int> ExitAsync(TimeSpan timeout) => _process.ExitAsync(timeout);

    /// <summary>Completes when a log line the host writes from now on contains <paramref name="text"/>.</summary>
    public Task OutputAsync(string text) => _process.OutputAsync(text);

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        Client.Dispose();
    }

    private async Task<bool> ReadyAsync()
    {
        if (_process.HasExited)
        {
            Assert.Fail($"The host exited with {_process.ExitCode} before it was ready:\n{_process.Tail}");
        }

        try
        {
            using var response = await Client.GetAsync("/health/ready");
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }
}
