namespace Formanova.Client;

/// <summary>How a <see cref="FormanovaClient"/> authenticates, retries and reconnects.</summary>
public sealed class FormanovaClientOptions
{
    /// <summary>Send the key as <c>Authorization: Bearer</c> instead of <c>X-Api-Key</c> (the server accepts both).</summary>
    public bool UseBearerToken { get; set; }

    /// <summary>Retries of a request answered 429, 503 or 504 (at most 10); 0 turns retrying off.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>
    /// The first back-off in seconds when the answer has no <c>Retry-After</c> (it doubles per attempt); a
    /// <c>Retry-After</c> from the server always wins.
    /// </summary>
    public int RetryDelaySeconds { get; set; } = 1;

    /// <summary>The wait before the event stream reconnects when the server sent no <c>retry:</c> hint.</summary>
    public TimeSpan StreamReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Reconnects of the event stream in a row that fail before any event arrives, before it gives up.</summary>
    public int StreamMaxReconnectFailures { get; set; } = 10;

    /// <summary>The time limit of one request (not of a stream once its headers arrived).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(100);
}
