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

    /// <summary>Logging for the embedded server; console at Warning when null.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; set; }
}
