using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Options;
using Temporalio.Client;
using Temporalio.Extensions.Hosting;

namespace Formanova.Host.Temporal;

/// <summary>
/// The hosted Temporal worker, which waits for Temporal rather than stopping the process. The SDK's service connects
/// once and throws when the frontend does not answer, and a hosted service that throws stops the host: in a host with
/// both roles the API would go down with it. This one probes with a back-off until Temporal answers, then runs the
/// SDK's worker with the same options; should that worker fail while Temporal is unreachable, it waits again.
/// </summary>
internal sealed class TemporalWorkerHost(
    TemporalWorkerServiceIdentifier identifier,
    IOptionsMonitor<TemporalWorkerServiceOptions> options,
    ITemporalClient client,
    TemporalAvailability temporal,
    TimeProvider time,
    ILoggerFactory loggers)
    : TemporalWorkerService(identifier, options, client, loggers)
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);

    private readonly ILogger _logger = loggers.CreateLogger<TemporalWorkerHost>();
    private volatile string _state = WorkerStates.Starting;

    /// <summary>One of <see cref="WorkerStates"/>, for the readiness check.</summary>
    public string State => _state;

    public bool Polling => _state == WorkerStates.Polling;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (true)
        {
            _state = WorkerStates.WaitingForTemporal;
            await WaitForTemporalAsync(stoppingToken);
            _state = WorkerStates.Polling;
            ExceptionDispatchInfo failure;
            try
            {
                await base.ExecuteAsync(stoppingToken);
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                failure = ExceptionDispatchInfo.Capture(ex);
            }
            finally
            {
                _state = WorkerStates.Stopped;
            }

            // A failure of the worker's own (not an outage) still stops the host, as the SDK's service would.
            if ((await temporal.ProbeAsync(stoppingToken)).Reachable)
            {
                failure.Throw();
            }

            _logger.LogWarning(
                failure.SourceException,
                "The Temporal worker stopped while Temporal is unreachable; it starts again once Temporal answers");
        }
    }

    private async Task WaitForTemporalAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromSeconds(1);
        var waited = false;
        while (!(await temporal.ProbeAsync(stoppingToken)).Reachable)
        {
            if (!waited)
            {
                _logger.LogInformation("The Temporal worker waits for Temporal at {Target} before it polls", temporal.Target);
                waited = true;
            }

            await Task.Delay(backoff, time, stoppingToken);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }

        if (waited)
        {
            _logger.LogInformation("Temporal at {Target} answers: the Temporal worker polls", temporal.Target);
        }
    }
}

/// <summary>What the hosted worker is doing, as <c>/health/ready</c> reports it.</summary>
internal static class WorkerStates
{
    public const string Starting = "starting";
    public const string WaitingForTemporal = "waitingForTemporal";
    public const string Polling = "polling";
    public const string Stopped = "stopped";
}
