using System.Threading.Channels;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model.Experiments;

/// <summary>
/// Shadow predictions waiting to be scored (docs/experiments.md, "The shadow queue"): a bounded queue the request
/// writes to without waiting (a full queue drops the copy and counts it), and <c>Model:Experiments:ShadowConcurrency</c>
/// background loops that score them. A failure is logged and counted, never seen by the request that caused it.
/// </summary>
internal sealed class ShadowQueue : IHostedService
{
    private readonly Channel<ShadowWork> _queue;
    private readonly ModelMetrics _metrics;
    private readonly ILogger<ShadowQueue> _logger;
    private readonly int _concurrency;
    private long _queued;
    private long _settled;
    private TaskCompletionSource _workSettled = NewSignal();
    private Task _loops = Task.CompletedTask;
    private volatile bool _stopped;

    public ShadowQueue(IOptions<ModelOptions> options, ModelMetrics metrics, ILogger<ShadowQueue> logger)
    {
        var experiments = options.Value.Experiments;
        _metrics = metrics;
        _logger = logger;
        _concurrency = experiments.ShadowConcurrency;
        _queue = Channel.CreateBounded<ShadowWork>(new BoundedChannelOptions(experiments.ShadowQueueCapacity)
        {
            // Wait, not a Drop mode: TryWrite then fails on a full queue instead of dropping silently, so it is counted.
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>Queues a shadow prediction, or drops and counts it when the queue is full. Never waits.</summary>
    public bool TryEnqueue(string experiment, Func<CancellationToken, Task> score)
    {
        if (_queue.Writer.TryWrite(new ShadowWork(experiment, score)))
        {
            Interlocked.Increment(ref _queued);
            return true;
        }

        _metrics.ShadowDropped.Add(1, new KeyValuePair<string, object?>("experiment", experiment));
        return false;
    }

    /// <summary>Waits until every shadow prediction queued before the call has been scored (or has failed).</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        var target = Interlocked.Read(ref _queued);
        while (Interlocked.Read(ref _settled) < target)
        {
            var signal = Volatile.Read(ref _workSettled).Task;
            if (Interlocked.Read(ref _settled) >= target)
            {
                break;
            }

            await signal.WaitAsync(cancellationToken);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loops = Task.WhenAll(Enumerable.Range(0, _concurrency).Select(_ => BackgroundTracing.RunDetached(ScoreLoopAsync)));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Shadow copies are expendable: what is still queued at shutdown is dropped rather than delaying the stop.
        _stopped = true;
        _queue.Writer.TryComplete();
        await Task.WhenAny(_loops, Task.Delay(Timeout.Infinite, cancellationToken));
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task ScoreLoopAsync()
    {
        using var quiet = BackgroundTracing.Quiet();
        // The queue's completion ends the loop; once stopping, what is left is only counted as settled.
        await foreach (var work in _queue.Reader.ReadAllAsync())
        {
            try
            {
                if (!_stopped)
                {
                    await work.Score(CancellationToken.None);
                }
            }
            catch (Exception ex)
            {
                _metrics.ShadowFailures.Add(1, new KeyValuePair<string, object?>("experiment", work.Experiment));
                _logger.LogWarning(ex, "A shadow prediction of experiment {Experiment} failed", work.Experiment);
            }
            finally
            {
                Interlocked.Increment(ref _settled);
                Interlocked.Exchange(ref _workSettled, NewSignal()).TrySetResult();
            }
        }
    }

    private sealed record ShadowWork(string Experiment, Func<CancellationToken, Task> Score);
}
