using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;

namespace Formanova.Tests.Drills;

/// <summary>One request of a drill: what it was, when it started (since the drill began), how long it took, and its answer.</summary>
internal sealed record DrillSample(string Kind, TimeSpan At, TimeSpan Took, int Status, bool RetryAfter, string? MediaType, string? Error)
{
    public bool Succeeded => Status is >= 200 and < 300;
}

/// <summary>
/// Records every request a drill sends, on one clock, so the drill can wait for conditions ("a loop succeeded after
/// the restart") and report what clients saw. Status 0 is a request that got no answer (transport error or timeout).
/// </summary>
internal sealed class DrillLoad
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentQueue<DrillSample> _samples = new();
    private readonly TimeSpan _timeout;

    public DrillLoad(TimeSpan timeout) => _timeout = timeout;

    public TimeSpan Now => _clock.Elapsed;

    public IReadOnlyList<DrillSample> Samples => [.. _samples];

    /// <summary>Sends the request and records it; null when no answer came within the timeout.</summary>
    public async Task<HttpResponseMessage?> SendAsync(string kind, HttpClient client, Func<HttpRequestMessage> request)
    {
        var started = Now;
        using var timeout = new CancellationTokenSource(_timeout);
        try
        {
            var response = await client.SendAsync(request(), timeout.Token);
            await response.Content.LoadIntoBufferAsync(timeout.Token);
            var retryAfter = response.Headers.RetryAfter is not null;
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            _samples.Enqueue(new DrillSample(kind, started, Now - started, (int)response.StatusCode, retryAfter, mediaType, null));
            return response;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            _samples.Enqueue(new DrillSample(kind, started, Now - started, 0, false, null, $"{ex.GetType().Name}: {ex.Message}"));
            return null;
        }
    }

    /// <summary>
    /// The host in process with the production retry policy, timeouts and cache settings (none of the test kit's short
    /// intervals), a small demo model, and quiet logs: under an outage every request would log.
    /// </summary>
    public static FormanovaFactory Host(params (string Key, string? Value)[] settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["Model:Bootstrap:Rows"] = "600",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft.AspNetCore.HttpLogging.HttpLoggingMiddleware"] = "Warning",
            ["Logging:LogLevel:Temporalio"] = "Error",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        return new FormanovaFactory(all);
    }

    /// <summary>Runs <paramref name="body"/> with 0, 1, 2… <paramref name="pace"/> apart, until <paramref name="stop"/>.</summary>
    /// <remarks>A stop lets the iteration in flight finish: a retry loop then ends with its request acknowledged.</remarks>
    public static Task Loop(Func<int, Task> body, TimeSpan pace, CancellationToken stop) => Task.Run(
        async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                await body(i);
                await Task.Delay(pace, CancellationToken.None);
            }
        },
        CancellationToken.None);

    /// <summary>Polls until a recorded request matches <paramref name="match"/>, and returns the first that does.</summary>
    public async Task<DrillSample> FirstAsync(Func<DrillSample, bool> match, TimeSpan timeout, string what)
    {
        await LocalProcesses.UntilAsync(() => Task.FromResult(_samples.Any(match)), timeout, what);
        return Samples.Where(match).MinBy(s => s.At)!;
    }

    /// <summary>A direct prediction on the demo model (POST /models/{name}/predict).</summary>
    public static HttpRequestMessage Predict(Dictionary<string, object?> inputs) =>
        new(HttpMethod.Post, $"/api/v1/models/{WorkflowTestKit.DemoModel}/predict") { Content = JsonContent.Create(new { inputs }) };

    /// <summary>Whether <paramref name="kind"/> has succeeded at least once since <paramref name="since"/>.</summary>
    public bool SucceededSince(string kind, TimeSpan since) => _samples.Any(s => s.Kind == kind && s.At >= since && s.Succeeded);

    /// <summary>Requests per kind and status, e.g. "import: 200×41 503×12".</summary>
    public string Summary() => string.Join("; ", Samples.GroupBy(s => s.Kind).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
        $"{g.Key}: " + string.Join(' ', g.GroupBy(s => s.Status).OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Count()}"))
        + string.Create(CultureInfo.InvariantCulture, $" (max {g.Max(s => s.Took.TotalMilliseconds):F0} ms)")));

    /// <summary>The requests that were neither a success nor in <paramref name="allowed"/>, for assertion messages.</summary>
    public IReadOnlyList<DrillSample> Unexpected(params HttpStatusCode[] allowed) =>
        Samples.Where(s => !s.Succeeded && !allowed.Contains((HttpStatusCode)s.Status)).ToList();

    public static string Describe(IEnumerable<DrillSample> samples)
    {
        var text = new StringBuilder();
        foreach (var s in samples.Take(10))
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  {s.Kind} at {s.At.TotalSeconds:F1} s: {s.Status}")
                .Append(CultureInfo.InvariantCulture, $" in {s.Took.TotalMilliseconds:F0} ms {s.Error}");
        }

        return text.ToString();
    }
}
