using System.Net;
using System.Net.Sockets;
using Formanova.DevServer;
using Formanova.Modules.Shared;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Temporal;

/// <summary>
/// Runs the Temporal-compatible dev server inside the process when no <c>Temporal:Address</c> is configured.
/// Registered before the worker so the server listens before the worker connects. The port is fixed when the
/// options are read (a free one is picked for port 0) because the lazy client needs its address before start.
/// </summary>
internal sealed class EmbeddedTemporalServer : IHostedService, IAsyncDisposable
{
    private readonly TemporalOptions _options;
    private readonly string _dataDirectory;
    private readonly ILoggerFactory _loggers;
    private DevServerHost? _host;

    public EmbeddedTemporalServer(IOptions<TemporalOptions> options, IOptions<FormanovaOptions> formanova, ILoggerFactory loggers)
    {
        _options = options.Value;
        _dataDirectory = formanova.Value.ResolveDataDirectory();
        _loggers = loggers;
        Port = _options.Embedded.Port == 0 ? FreeLoopbackPort() : _options.Embedded.Port;
    }

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var storage = _options.Embedded.StoragePath == ":memory:"
            ? ":memory:"
            : Path.Combine(_dataDirectory, _options.Embedded.StoragePath);
        var host = new DevServerHost();
        var options = new DevServerOptions
        {
            Port = Port,
            BindAddress = "127.0.0.1",
            StoragePath = storage,
            DefaultNamespaceRetention = TimeSpan.FromDays(_options.Embedded.RetentionDays),
            // One process, one stdout and one /metrics: the server logs through the host's JSON pipeline, and its
            // RPCs stay out of the host's HTTP metrics and, unless asked for, out of its traces.
            LoggerFactory = _loggers,
            IsolateMetrics = true,
            IsolateTracing = !_options.Embedded.TraceRpcs,
        };
        if (_options.Namespace != "default")
        {
            options.Namespaces.Add(new DevServerNamespace(_options.Namespace, TimeSpan.FromDays(_options.Embedded.RetentionDays)));
        }

        await host.StartAsync(options, cancellationToken);
        _host = host;
        _loggers.CreateLogger<EmbeddedTemporalServer>()
            .LogInformation("Embedded Temporal server listening on {Address} (storage {Storage})", Address, storage);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_host is { } host)
        {
            _host = null;
            await host.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
