using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Abstractions;

namespace Formanova.DevServer;

/// <summary>
/// The names under which an embedded server logs, meters and traces (see <see cref="DevServerOptions.LoggerFactory"/>,
/// <see cref="DevServerOptions.IsolateMetrics"/> and <see cref="DevServerOptions.IsolateTracing"/>).
/// </summary>
public static class DevServerDiagnostics
{
    /// <summary>Put before the standard names of what the server shares with its owner's process.</summary>
    public const string Prefix = "Formanova.DevServer.";

    /// <summary>The activity source and diagnostic listener of an embedded server's requests with isolated tracing.</summary>
    public const string AspNetCoreSource = Prefix + "Microsoft.AspNetCore";

    /// <summary>
    /// ASP.NET Core starts a diagnostics Activity for every request while this category is enabled at any level; the
    /// server logs its RPCs itself (at Debug), so this category is always off.
    /// </summary>
    internal const string HostingDiagnosticsCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    private const string OwnNamespace = "Formanova.DevServer";

    /// <summary>
    /// The owner's category for a server category: the server's own classes keep theirs (they start with
    /// <c>Formanova.DevServer</c>), the framework's get the prefix, e.g. <c>Formanova.DevServer.Microsoft.Hosting.Lifetime</c>.
    /// </summary>
    public static string Category(string category) =>
        category == OwnNamespace || category.StartsWith(Prefix, StringComparison.Ordinal) ? category : Prefix + category;

    internal static void Apply(DevServerOptions options, IServiceCollection services)
    {
        if (options.LoggerFactory is { } owner)
        {
            services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(new OwnerLoggerFactory(owner)));
        }

        if (options.IsolateMetrics)
        {
            services.Replace(ServiceDescriptor.Singleton<IMeterFactory, PrefixedMeterFactory>());
        }

        if (options.IsolateTracing)
        {
            services.Replace(ServiceDescriptor.Singleton(_ => new DiagnosticListener(AspNetCoreSource)));
            services.Replace(ServiceDescriptor.Singleton(_ => new ActivitySource(AspNetCoreSource)));
        }
    }

    /// <summary>Hands out the owner's loggers under the server's categories; the owner's factory is never disposed here.</summary>
    private sealed class OwnerLoggerFactory(ILoggerFactory owner) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) =>
            categoryName == HostingDiagnosticsCategory ? NullLogger.Instance : owner.CreateLogger(Category(categoryName));

        public void AddProvider(ILoggerProvider provider) =>
            throw new NotSupportedException("The server logs through its owner's logger factory: add providers there.");

        public void Dispose()
        {
        }
    }

    /// <summary>Creates every meter under the prefixed name; the meters are disposed with the server.</summary>
    private sealed class PrefixedMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(new MeterOptions(Prefix + options.Name)
            {
                Version = options.Version,
                Tags = options.Tags,
                Scope = this,
            });
            lock (_meters)
            {
                _meters.Add(meter);
            }

            return meter;
        }

        public void Dispose()
        {
            lock (_meters)
            {
                _meters.ForEach(meter => meter.Dispose());
                _meters.Clear();
            }
        }
    }
}
