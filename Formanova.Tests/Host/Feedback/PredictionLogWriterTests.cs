using System.Diagnostics.Metrics;
using System.Reflection;
using Formanova.Host.Feedback;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Formanova.Tests.Host.Feedback;

/// <summary>
/// The writer between the Model module's observer calls and the Data module: a full queue drops and counts without
/// making the caller wait, stopping writes what is queued, and sampling is a pure function of the id.
/// </summary>
public sealed class PredictionLogWriterTests
{
    [Test]
    public async Task Predicted_WhenTheQueueIsFull_DropsAndCountsWithoutWaiting()
    {
        var data = GatedDataModule.Create(out var gate);
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var writer = Writer(data, services, new PredictionLogOptions { QueueCapacity = 4, WriteBatchRows = 1 });
        using var dropped = new DropCounter(services.GetRequiredService<IMeterFactory>());
        await writer.StartAsync(CancellationToken.None);

        for (var i = 0; i < 100; i++)
        {
            writer.Predicted(Result(), ModelTask.BinaryClassification, null);
        }

        // Every call returned while the database write was still blocked: the caller never waits on it.
        Assert.That(gate.Task.IsCompleted, Is.False);
        gate.SetResult();
        await writer.StopAsync(CancellationToken.None);
        var written = GatedDataModule.Written(data);
        Assert.That(written, Is.InRange(4, 5), "the queue's 4, and at most the one the writer had taken");
        Assert.That(dropped.Count, Is.EqualTo(100 - written));
    }

    [Test]
    public async Task StopAsync_WhenPredictionsAreQueued_WritesThemAllFirst()
    {
        var data = GatedDataModule.Create(out var gate);
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var writer = Writer(data, services, new PredictionLogOptions { QueueCapacity = 100, WriteBatchRows = 7 });
        await writer.StartAsync(CancellationToken.None);
        for (var i = 0; i < 50; i++)
        {
            writer.Predicted(Result(), ModelTask.BinaryClassification, $"entity-{i}");
        }

        var stopping = writer.StopAsync(CancellationToken.None);
        gate.SetResult();
        await stopping;

        Assert.That(GatedDataModule.Written(data), Is.EqualTo(50));
    }

    [Test]
    public async Task Predicted_WhileABatchGathers_WritesWhatArrivedInTheDelayInOneBatch()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var (writer, data, clock) = await GatheringAsync(services, TimeSpan.FromSeconds(5));
        for (var i = 0; i < 9; i++)
        {
            writer.Predicted(Result(), ModelTask.BinaryClassification, null);
        }

        var whileGathering = GatedDataModule.Batches(data);
        clock.Advance(TimeSpan.FromSeconds(5));
        await writer.FlushAsync(CancellationToken.None);
        await writer.StopAsync(CancellationToken.None);

        Assert.That(whileGathering, Is.Empty, "nothing is written while the batch gathers");
        Assert.That(GatedDataModule.Batches(data), Is.EqualTo(new[] { 10 }));
    }

    [Test]
    public async Task FlushAsync_WhileABatchGathers_WritesItWithoutWaitingForTheDelay()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var (writer, data, _) = await GatheringAsync(services, TimeSpan.FromMinutes(1));

        // The clock never moves: only the flush can end the writer's wait.
        await writer.FlushAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(GatedDataModule.Batches(data), Is.EqualTo(new[] { 1 }));
        await writer.StopAsync(CancellationToken.None);
    }

    [Test]
    public void Sampled_ForTheSameId_AlwaysAnswersTheSameAndKeepsTheRate()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var writer = Writer(GatedDataModule.Create(out _), services, new PredictionLogOptions { SampleRate = 0.3 });
        var ids = Enumerable.Range(0, 20_000).Select(_ => Guid.CreateVersion7().ToString()).ToList();

        var first = ids.Select(writer.Sampled).ToList();
        var second = ids.Select(writer.Sampled).ToList();

        Assert.That(first.Count(kept => kept) / 20_000.0, Is.EqualTo(0.3).Within(0.02));
        Assert.That(second, Is.EqualTo(first));
        Assert.That(Writer(GatedDataModule.Create(out _), services, new PredictionLogOptions { SampleRate = 0 }).Sampled(ids[0]), Is.False);
    }

    /// <summary>A started writer with one prediction queued, waiting (on a fake clock) for its batch to gather.</summary>
    private static async Task<(PredictionLogWriter Writer, IDataModule Data, FakeTimeProvider Clock)> GatheringAsync(
        IServiceProvider services,
        TimeSpan delay)
    {
        var data = GatedDataModule.Create(out var gate);
        gate.SetResult();
        var clock = new DelayWatchingClock(delay);
        var options = new PredictionLogOptions { WriteDelayMilliseconds = (int)delay.TotalMilliseconds };
        var writer = Writer(data, services, options, clock);
        await writer.StartAsync(CancellationToken.None);
        writer.Predicted(Result(), ModelTask.BinaryClassification, null);
        await clock.DelayStarted.WaitAsync(TimeSpan.FromSeconds(30));
        return (writer, data, clock);
    }

    private static PredictionLogWriter Writer(
        IDataModule data,
        IServiceProvider services,
        PredictionLogOptions options,
        TimeProvider? clock = null) =>
        new(
            data,
            Options.Create(options),
            clock ?? TimeProvider.System,
            services.GetRequiredService<IMeterFactory>(),
            NullLogger<PredictionLogWriter>.Instance);

    private static PredictionResult Result() =>
        new("m", "1.0.0", "true", null, 1.2, null, null, false, 0.4, PredictionId: Guid.CreateVersion7().ToString());

    /// <summary>A fake clock that says when the writer starts to wait for a batch to gather (a timer of that delay).</summary>
    private sealed class DelayWatchingClock(TimeSpan delay) : FakeTimeProvider
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task DelayStarted => _started.Task;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            if (dueTime == delay)
            {
                _started.TrySetResult();
            }

            return timer;
        }
    }

    /// <summary>Counts the writer's drops on this test's meter only (tests in parallel have meters of the same name).</summary>
    private sealed class DropCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public DropCounter(IMeterFactory scope)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "formanova.prediction_log.dropped" && ReferenceEquals(instrument.Meter.Scope, scope))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _count, value));
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }
}

/// <summary>An <see cref="IDataModule"/> whose LogPredictionsAsync waits for a gate, then counts what it was given.</summary>
#pragma warning disable CA1852 // DispatchProxy generates the derived proxy type.
internal class GatedDataModule : DispatchProxy
#pragma warning restore CA1852
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<int> _batches = new();
    private TaskCompletionSource _gate = null!;
    private long _written;

    public static IDataModule Create(out TaskCompletionSource gate)
    {
        var proxy = Create<IDataModule, GatedDataModule>();
        var self = (GatedDataModule)(object)proxy;
        self._gate = gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return proxy;
    }

    public static long Written(IDataModule proxy) => Interlocked.Read(ref ((GatedDataModule)(object)proxy)._written);

    /// <summary>The size of each batch written so far, in order.</summary>
    public static int[] Batches(IDataModule proxy) => [.. ((GatedDataModule)(object)proxy)._batches];

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod!.Name switch
    {
        nameof(IDataModule.LogPredictionsAsync) => WriteAsync((IReadOnlyList<LoggedPrediction>)args![0]!),
        nameof(IDataModule.SweepPredictionLogAsync) => Task.FromResult(0L),
        _ => throw new NotSupportedException(targetMethod.Name),
    };

    private async Task<int> WriteAsync(IReadOnlyList<LoggedPrediction> predictions)
    {
        await _gate.Task;
        Interlocked.Add(ref _written, predictions.Count);
        _batches.Enqueue(predictions.Count);
        return predictions.Count;
    }
}
