using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Feedback;

/// <summary>
/// The Model module's <see cref="IPredictionObserver"/>, written to the Data module's prediction log (docs/feedback.md).
/// A prediction costs the caller a hash of its id (sampling), one record and a non-blocking write to a bounded
/// channel; a full channel drops the record and counts it. One background loop writes batches, a second sweeps by
/// age and row cap; stopping the host writes what is queued first, within <c>PredictionLog:FlushTimeoutSeconds</c>.
/// The writer lets a batch gather for up to <c>PredictionLog:WriteDelayMilliseconds</c>: a commit rewrites every page
/// it touched (the row's and those of the log's five indexes), so one prediction per commit cost the host a fifth of
/// its CPU under load (docs/benchmarks.md, "The shipped host"). <see cref="FlushAsync"/> cuts the wait short.
/// </summary>
internal sealed class PredictionLogWriter : IPredictionObserver, IHostedService
{
    private readonly Channel<LoggedPrediction> _queue;
    private readonly IDataModule _data;
    private readonly PredictionLogOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<PredictionLogWriter> _logger;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _written;
    private readonly ulong _sampleBelow;
    private long _queued;
    private long _settled;
    private TaskCompletionSource _batchSettled = NewSignal();
    private TaskCompletionSource _wake = NewSignal();
    private volatile bool _stopping;
    private Task _writing = Task.CompletedTask;
    private Task _sweeping = Task.CompletedTask;

    public PredictionLogWriter(
        IDataModule data,
        IOptions<PredictionLogOptions> options,
        TimeProvider clock,
        IMeterFactory meters,
        ILogger<PredictionLogWriter> logger)
    {
        _data = data;
        _options = options.Value;
        _clock = clock;
        _logger = logger;
        _queue = Channel.CreateBounded<LoggedPrediction>(new BoundedChannelOptions(_options.QueueCapacity)
        {
            // Wait, not a Drop mode: TryWrite then fails on a full queue instead of dropping silently, so it is counted.
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        _sampleBelow = _options.SampleRate >= 1 ? ulong.MaxValue : (ulong)(_options.SampleRate * ulong.MaxValue);
        var meter = meters.Create(FormanovaTelemetry.MeterName);
        _dropped = meter.CreateCounter<long>(
            "formanova.prediction_log.dropped",
            "{prediction}",
            "Predictions the prediction log did not keep, by reason: queue_full (the writer fell behind) or write_failed.");
        _written = meter.CreateCounter<long>(
            "formanova.prediction_log.written",
            "{prediction}",
            "Predictions written to the prediction log.");
        meter.CreateObservableGauge(
            "formanova.prediction_log.queue_depth",
            () => _queue.Reader.Count,
            "{prediction}",
            "Predictions waiting for the prediction log's writer.");
    }

    public void Predicted(PredictionResult result, ModelTask task, string? entityId)
    {
        // A shadow row is sampled with its served prediction, so the feedback that scores one finds the other.
        if (result.PredictionId is { } id && Sampled(result.ServedPredictionId ?? id))
        {
            Enqueue(new LoggedPrediction(
                id,
                result.Model,
                result.Version,
                TaskOf(task),
                _clock.GetUtcNow(),
                result.Label,
                result.Value,
                result.Score,
                result.Probabilities,
                result.LatencyMs,
                result.Cached,
                result.FallbackFrom,
                EntityId: entityId,
                Experiment: result.Experiment,
                Arm: result.Arm,
                ServedPredictionId: result.ServedPredictionId));
        }
    }

    public void Failed(
        string predictionId,
        string model,
        string version,
        ModelTask task,
        string errorKind,
        double latencyMs,
        string? entityId,
        PredictionRoute? route = null)
    {
        if (Sampled(route?.ServedPredictionId ?? predictionId))
        {
            Enqueue(new LoggedPrediction(
                predictionId, model, version, TaskOf(task), _clock.GetUtcNow(), null, null, null, null, latencyMs, false,
                ErrorKind: errorKind, EntityId: entityId, Experiment: route?.Experiment, Arm: route?.Arm,
                ServedPredictionId: route?.ServedPredictionId));
        }
    }

    /// <summary>Whether <paramref name="predictionId"/> is in the sample: the same answer for the same id, every time.</summary>
    public bool Sampled(string predictionId)
    {
        if (!_options.Enabled)
        {
            return false;
        }

        // FNV-1a over the id's characters: cheap, and the random tail of a UUID v7 spreads it evenly.
        var hash = 14695981039346656037UL;
        foreach (var c in predictionId)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return _sampleBelow == ulong.MaxValue || hash < _sampleBelow;
    }

    public static OutcomeTask TaskOf(ModelTask task) => task switch
    {
        ModelTask.BinaryClassification => OutcomeTask.BinaryClassification,
        ModelTask.MulticlassClassification => OutcomeTask.MulticlassClassification,
        _ => OutcomeTask.Regression,
    };

    /// <summary>
    /// Whether a prediction made at <paramref name="madeAt"/> may still be waiting for the writer: something is queued
    /// and the prediction is recent. Feedback that names one flushes first, so it finds the row.
    /// </summary>
    public bool MayHoldQueued(DateTimeOffset madeAt) =>
        Interlocked.Read(ref _queued) > Interlocked.Read(ref _settled) && madeAt >= _clock.GetUtcNow() - QueueHorizon;

    /// <summary>
    /// Waits until everything queued before the call has been written (or dropped by a failed write), and wakes the
    /// writer if it is letting a batch gather.
    /// </summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var target = Interlocked.Read(ref _queued);
        Volatile.Read(ref _wake).TrySetResult();
        while (Interlocked.Read(ref _settled) < target)
        {
            var signal = Volatile.Read(ref _batchSettled).Task;
            if (Interlocked.Read(ref _settled) >= target)
            {
                break;
            }

            await signal.WaitAsync(cancellationToken);
        }
    }

    /// <summary>One sweep now: deletes what is older than the retention, then the oldest beyond the row cap.</summary>
    public Task<long> SweepAsync(CancellationToken cancellationToken) =>
        _data.SweepPredictionLogAsync(_clock.GetUtcNow().AddDays(-_options.RetentionDays), _options.MaxRows, cancellationToken);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.Enabled)
        {
            _writing = BackgroundTracing.RunDetached(WriteLoopAsync);
            _sweeping = BackgroundTracing.RunDetached(SweepLoopAsync);
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _queue.Writer.TryComplete();
        Volatile.Read(ref _wake).TrySetResult();
        var flush = Task.WhenAll(_writing, _sweeping);
        await Task.WhenAny(flush, Task.Delay(TimeSpan.FromSeconds(_options.FlushTimeoutSeconds), cancellationToken));
        if (!flush.IsCompleted)
        {
            _logger.LogWarning("The prediction log's writer did not finish within {Seconds} s; {Count} predictions are lost",
                _options.FlushTimeoutSeconds, _queue.Reader.Count);
        }
    }

    // How far back feedback looks for a prediction that may still be queued: far beyond the write delay and the time
    // the writer takes to drain a full queue.
    private static readonly TimeSpan QueueHorizon = TimeSpan.FromMinutes(5);

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void Enqueue(LoggedPrediction prediction)
    {
        if (_queue.Writer.TryWrite(prediction))
        {
            Interlocked.Increment(ref _queued);
        }
        else
        {
            _dropped.Add(1, new KeyValuePair<string, object?>("reason", "queue_full"));
        }
    }

    // Neither loop is traced (docs/observability.md, "Background loops"): a write per batch would be a root span of
    // its own, more traces than the requests that caused them; the written and dropped counters say what they did.
    private async Task WriteLoopAsync()
    {
        using var quiet = BackgroundTracing.Quiet();
        var batch = new List<LoggedPrediction>(_options.WriteBatchRows);
        // Not on the stopping token: after TryComplete the loop still drains the queue, then WaitToReadAsync says false.
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            await GatherAsync();
            while (batch.Count < _options.WriteBatchRows && _queue.Reader.TryRead(out var prediction))
            {
                batch.Add(prediction);
            }

            try
            {
                await _data.LogPredictionsAsync(batch, CancellationToken.None);
                _written.Add(batch.Count);
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "Could not write {Count} predictions to the prediction log; they are dropped", batch.Count);
                _dropped.Add(batch.Count, new KeyValuePair<string, object?>("reason", "write_failed"));
            }

            Interlocked.Add(ref _settled, batch.Count);
            batch.Clear();
            Interlocked.Exchange(ref _batchSettled, NewSignal()).TrySetResult();
        }
    }

    /// <summary>Lets a batch gather until it is full, the delay is over, or a flush or the stop wakes the writer.</summary>
    private async Task GatherAsync()
    {
        var signal = Volatile.Read(ref _wake);
        if (!_stopping && !signal.Task.IsCompleted && _options.WriteDelayMilliseconds > 0 && _queue.Reader.Count < _options.WriteBatchRows)
        {
            using var over = new CancellationTokenSource();
            var delay = Task.Delay(TimeSpan.FromMilliseconds(_options.WriteDelayMilliseconds), _clock, over.Token);
            await Task.WhenAny(signal.Task, delay);
            await over.CancelAsync();
        }

        // A wake-up is used once: the rows of the flush behind it are queued, so the drain after this takes them. After
        // the stop it stays set, so what is left is written without waiting.
        if (signal.Task.IsCompleted && !_stopping)
        {
            Interlocked.CompareExchange(ref _wake, NewSignal(), signal);
        }
    }

    private async Task SweepLoopAsync()
    {
        using var quiet = BackgroundTracing.Quiet();
        // The queue's completion (stopping, once what was queued is written) ends the loop; a sweep under way finishes.
        var stopped = _queue.Reader.Completion;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.SweepIntervalSeconds), _clock);
        do
        {
            try
            {
                var deleted = await SweepAsync(CancellationToken.None);
                if (deleted > 0)
                {
                    _logger.LogInformation("The prediction log's sweep deleted {Count} predictions", deleted);
                }
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "The prediction log's sweep failed; it runs again in {Seconds} s", _options.SweepIntervalSeconds);
            }
        }
        while (await Task.WhenAny(timer.WaitForNextTickAsync().AsTask(), stopped) != stopped);
    }
}
