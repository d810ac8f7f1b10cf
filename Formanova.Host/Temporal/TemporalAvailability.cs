using System.Text.RegularExpressions;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Options;
using Temporalio.Api.WorkflowService.V1;
using Temporalio.Client;
using Temporalio.Exceptions;

namespace Formanova.Host.Temporal;

/// <summary>One look at the Temporal frontend: whether it answered, why not, and when.</summary>
internal sealed record TemporalProbe(bool Reachable, string? Reason, DateTimeOffset At);

/// <summary>
/// Whether the Temporal frontend answers, as the readiness check, the worker and the workflow endpoints see it. A probe
/// is a connect and a GetSystemInfo without the SDK's retries, bounded by <c>Temporal:ConnectTimeoutSeconds</c>;
/// concurrent callers share one. The workflow endpoints ask <see cref="EnsureReachableAsync"/> first, so in an outage
/// they answer 503 within the connect timeout instead of each waiting out the SDK's retries (about 10 s).
/// </summary>
internal sealed partial class TemporalAvailability(
    ITemporalClient client,
    IOptions<TemporalOptions> options,
    TimeProvider time,
    ILogger<TemporalAvailability> logger)
{
    /// <summary>
    /// How long an outcome stands before the next request probes again: under load, answers keep it fresh and no
    /// request pays for a probe; in an outage, at most one probe a second reaches for the frontend.
    /// </summary>
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private Task<TemporalProbe>? _probe;
    private TemporalProbe? _last;

    public string Target => client.Connection.Options.TargetHost ?? "";

    public string Namespace => client.Options.Namespace;

    /// <summary>A probe now (or the one under way): the readiness check's view.</summary>
    public Task<TemporalProbe> ProbeAsync(CancellationToken cancellationToken)
    {
        Task<TemporalProbe> probe;
        lock (_lock)
        {
            if (_probe is null || _probe.IsCompleted)
            {
                _probe = RunProbeAsync();
            }

            probe = _probe;
        }

        return probe.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Returns when Temporal answered within the last second or answers a probe now; otherwise throws the 503 of
    /// <see cref="Unavailable"/>. Requests that need Temporal call this before they touch it.
    /// </summary>
    public async Task EnsureReachableAsync(CancellationToken cancellationToken)
    {
        var last = Volatile.Read(ref _last);
        var recent = last is not null && time.GetUtcNow() - last.At < Fresh;
        var reachable = recent ? last!.Reachable : (await ProbeAsync(cancellationToken)).Reachable;
        if (!reachable)
        {
            throw Unavailable();
        }
    }

    /// <summary>A request's call reached Temporal and came back: no probe needed for a while.</summary>
    public void Answered() => Record(null);

    /// <summary>A request's call could not reach Temporal (see <see cref="IsUnreachable"/>).</summary>
    public void Failed(Exception exception) => Record(exception);

    /// <summary>Failures that mean the frontend is not there: refused or reset connections, and calls it never answered.</summary>
    public static bool IsUnreachable(Exception exception) => exception switch
    {
        RpcException rpc => rpc.Code is RpcException.StatusCode.Unavailable or RpcException.StatusCode.DeadlineExceeded,
        // The lazy client's first connect.
        InvalidOperationException invalid => invalid.Message.StartsWith("Connection failed", StringComparison.Ordinal),
        _ => false,
    };

    /// <summary>The 503 a request that needs Temporal answers while it is unreachable (with Retry-After, like every 503).</summary>
    public static ModuleException Unavailable() => new(
        ErrorKind.Unavailable,
        "The workflow engine (Temporal) is unreachable, so workflows cannot be started, signalled or read at the moment; "
            + "the rest of the API is served. Retry later, with the same Idempotency-Key where the request has one.");

    private async Task<TemporalProbe> RunProbeAsync()
    {
        var timeout = TimeSpan.FromSeconds(options.Value.ConnectTimeoutSeconds);
        using var deadline = new CancellationTokenSource(timeout, time);
        try
        {
            await client.Connection.ConnectAsync().WaitAsync(deadline.Token);
            await client.WorkflowService.GetSystemInfoAsync(
                new GetSystemInfoRequest(),
                new RpcOptions { Timeout = timeout, CancellationToken = deadline.Token, Retry = false });
            return Record(null);
        }
        catch (Exception ex)
        {
            var timedOut = deadline.IsCancellationRequested;
            return Record(timedOut ? new TimeoutException($"no answer within {options.Value.ConnectTimeoutSeconds} s", ex) : ex);
        }
    }

    private TemporalProbe Record(Exception? failure)
    {
        var probe = new TemporalProbe(failure is null, failure is null ? null : ReasonOf(failure), time.GetUtcNow());
        var previous = Interlocked.Exchange(ref _last, probe);
        if (probe.Reachable && previous is { Reachable: false })
        {
            logger.LogInformation("Temporal at {Target} answers again", Target);
        }
        else if (!probe.Reachable && previous is not { Reachable: false })
        {
            logger.LogWarning(
                "Temporal at {Target} is unreachable ({Reason}): workflow endpoints answer 503 until it answers again",
                Target,
                probe.Reason);
        }

        return probe;
    }

    /// <summary>Short enough for a log line and the health detail; the connect error's own words where it has them.</summary>
    private static string ReasonOf(Exception failure) => failure switch
    {
        TimeoutException timeout => timeout.Message,
        RpcException rpc => $"{rpc.Code}: {rpc.Message}",
        _ when OsError().Match(failure.Message) is { Success: true } os => $"connection failed: {os.Groups[1].Value}",
        _ => failure.Message.Length > 200 ? failure.Message[..200] + "…" : failure.Message,
    };

    /// <summary>
    /// The OS error inside the SDK's connect failure: <c>… Os { code: 111, kind: ConnectionRefused, message: "Connection refused" }</c>.
    /// </summary>
    [GeneratedRegex("""Os \{[^}]*message: "([^"]+)" \}""")]
    private static partial Regex OsError();
}
