using System.Net;
using Formanova.DevServer.Engine;
using Formanova.DevServer.Grpc;
using Grpc.AspNetCore.Server.Model;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Formanova.DevServer;

/// <summary>
/// Embeds the Temporal-compatible server: <c>var address = await host.StartAsync(options)</c>, then point
/// <c>TemporalClient.ConnectAsync(new(address))</c> at it.
/// </summary>
public sealed class DevServerHost : IAsyncDisposable
{
    private WebApplication? _app;

    /// <summary>host:port the server listens on; set once StartAsync has returned.</summary>
    public string? Address { get; private set; }

    /// <summary>The running server's engine, for tests that look at what it holds in memory.</summary>
    internal WorkflowEngine? Engine => _app?.Services.GetRequiredService<WorkflowEngine>();

    public async Task<string> StartAsync(DevServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (_app is not null)
        {
            throw new InvalidOperationException("The server is already started.");
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        if (options.ConfigureLogging is { } configure)
        {
            configure(builder.Logging);
        }
        else
        {
            builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        }

        builder.Logging.AddFilter(DevServerDiagnostics.HostingDiagnosticsCategory, LogLevel.None);
        DevServerDiagnostics.Apply(options, builder.Services);
        // The address goes in as the URL setting, which replaces the process's ASPNETCORE_URLS and ports: those belong to
        // an owner that embeds the server. An explicit Listen would bind as well, with an "Overriding address(es)" warning.
        builder.WebHost.UseUrls($"http://{new IPEndPoint(IPAddress.Parse(options.BindAddress), options.Port)}")
            .UseSetting(WebHostDefaults.HttpPortsKey, "")
            .UseSetting(WebHostDefaults.HttpsPortsKey, "");
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ConfigureEndpointDefaults(listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
        });
        builder.Services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = 128 * 1024 * 1024;
            grpc.MaxSendMessageSize = 128 * 1024 * 1024;
        });
        // The owner decides when the server stops: it must not grab the process's Ctrl+C / SIGTERM handling.
        builder.Services.AddSingleton<IHostLifetime, OwnerControlledLifetime>();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<WorkflowEngine>();
        builder.Services.AddSingleton<WorkflowServiceHandlers>();
        builder.Services.AddSingleton<WorkflowServiceEndpoint>();
        builder.Services.AddSingleton<OperatorServiceHandlers>();
        builder.Services.AddSingleton<OperatorServiceEndpoint>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<
            IServiceMethodProvider<WorkflowServiceEndpoint>, DescriptorServiceMethodProvider<WorkflowServiceEndpoint>>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<
            IServiceMethodProvider<OperatorServiceEndpoint>, DescriptorServiceMethodProvider<OperatorServiceEndpoint>>());
        HealthService.Add(builder.Services);
        var app = builder.Build();
        app.MapGrpcService<WorkflowServiceEndpoint>();
        app.MapGrpcService<OperatorServiceEndpoint>();
        app.MapGrpcHealthChecksService();
        // Recovery runs before the port opens so no worker sees a half-loaded state.
        app.Services.GetRequiredService<WorkflowEngine>().Recover();
        await app.StartAsync(cancellationToken);
        _app = app;
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var uri = new Uri(bound);
        Address = $"{options.BindAddress}:{uri.Port}";
        return Address;
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_app is { } app)
        {
            _app = null;
            app.Services.GetRequiredService<WorkflowEngine>().Shutdown();
            await app.StopAsync(cancellationToken);
            await app.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}

internal sealed class OwnerControlledLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
