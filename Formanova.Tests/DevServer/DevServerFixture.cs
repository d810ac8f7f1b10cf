using Formanova.DevServer;
using Microsoft.Extensions.Logging;
using Temporalio.Client;
using Temporalio.Worker;

namespace Formanova.Tests.DevServer;

/// <summary>One in-memory server per test class on an ephemeral loopback port, driven by the real SDK.</summary>
public abstract class DevServerFixture
{
    private DevServerHost? _host;

    protected TemporalClient Client { get; private set; } = null!;

    protected string Address { get; private set; } = "";

    [OneTimeSetUp]
    public async Task StartServerAsync()
    {
        _host = new DevServerHost();
        var options = new DevServerOptions { Port = 0, StoragePath = ":memory:" };
        if (Environment.GetEnvironmentVariable("DEVSERVER_TRACE") == "1")
        {
            options.ConfigureLogging = logging => logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Debug)
                .AddFilter("Microsoft", LogLevel.Warning);
        }

        Configure(options);
        Address = await _host.StartAsync(options);
        Client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(Address) { Namespace = "default" });
    }

    [OneTimeTearDown]
    public async Task StopServerAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    /// <summary>Adjusts the server's options before it starts (a fake clock, for instance).</summary>
    protected virtual void Configure(DevServerOptions options)
    {
    }

    protected static string NewQueue() => $"tq-{Guid.NewGuid():N}";

    protected static string NewId() => $"wf-{Guid.NewGuid():N}";

    /// <summary>Runs <paramref name="body"/> while a worker for the given workflows/activities polls the queue.</summary>
    protected Task RunWorkerAsync(string queue, Action<TemporalWorkerOptions> configure, Func<Task> body) =>
        RunWorkerAsync(Client, queue, configure, body);

    protected static async Task RunWorkerAsync(
        ITemporalClient client,
        string queue,
        Action<TemporalWorkerOptions> configure,
        Func<Task> body)
    {
        var options = new TemporalWorkerOptions(queue);
        configure(options);
        using var worker = new TemporalWorker(client, options);
        await worker.ExecuteAsync(body);
    }

    /// <summary>
    /// Awaits the call and returns the exception it threw. NUnit's Assert.ThrowsAsync blocks the thread,
    /// which deadlocks inside a worker's ExecuteAsync callback.
    /// </summary>
    protected static async Task<TException> ThrowsAsync<TException>(Func<Task> call)
        where TException : Exception
    {
        try
        {
            await call();
        }
        catch (TException e)
        {
            return e;
        }

        Assert.Fail($"Expected {typeof(TException).Name}.");
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>Polls a condition until it holds or the deadline passes; replaces sleeps in tests.</summary>
    protected static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Condition not met before the deadline.");
            }

            await Task.Delay(20);
        }
    }
}
