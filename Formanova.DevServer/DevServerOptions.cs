namespace Formanova.DevServer;

/// <summary>A namespace the server creates at start-up, with how long closed workflows are kept.</summary>
public sealed record DevServerNamespace(string Name, TimeSpan Retention)
{
    public static DevServerNamespace Development { get; } = new("development", TimeSpan.FromDays(7));
    public static DevServerNamespace Production { get; } = new("production", TimeSpan.FromDays(30));
}

public sealed class DevServerOptions
{
    /// <summary>TCP port; 0 picks a free one (read the bound address from StartAsync).</summary>
    public int Port { get; set; } = 7233;

    /// <summary>Loopback by default: the server has no authentication.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>SQLite file holding the event log, or ":memory:" for a throw-away server.</summary>
    public string StoragePath { get; set; } = ":memory:";

    /// <summary>Namespaces created in addition to "default".</summary>
    public IList<DevServerNamespace> Namespaces { get; } = [];

    public TimeSpan DefaultNamespaceRetention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// The clock behind event times and every deadline (timers, timeouts, retry backoff, retention); tests pass a
    /// FakeTimeProvider to drive them without waiting.
    /// </summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Logging for the embedded server; console at Warning when null. Not used when <see cref="LoggerFactory"/> is set.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; set; }

    /// <summary>
    /// The owner's logger factory, for a server embedded in another application: every line the server logs, its own
    /// and ASP.NET Core's, goes through it under a category starting with <c>Formanova.DevServer</c>
    /// (<see cref="DevServerDiagnostics.Category"/>), so the owner's providers, formatter and <c>Logging:LogLevel</c>
    /// rules apply to it. The factory stays the owner's: the server never disposes it.
    /// </summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// Gives the server's ASP.NET Core meters names of its own (<see cref="DevServerDiagnostics.Prefix"/> before the
    /// standard name), for a server embedded in an application that collects ASP.NET Core metrics: meters and their
    /// listeners meet by name across the process, so the owner would otherwise count every RPC as one of its requests.
    /// Off for the standalone server, whose metrics keep the names dotnet-counters and dashboards know.
    /// </summary>
    public bool IsolateMetrics { get; set; }

    /// <summary>
    /// The same for traces: the server's request activities come from an activity source and a diagnostic listener
    /// named <see cref="DevServerDiagnostics.AspNetCoreSource"/>, which ASP.NET Core instrumentation listening for
    /// <c>Microsoft.AspNetCore</c> does not see, so no RPC becomes a span of the owner's.
    /// </summary>
    public bool IsolateTracing { get; set; }
}
