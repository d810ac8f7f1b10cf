using System.Diagnostics.Metrics;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Experiments;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Formanova.Tests.Model.Experiments;

/// <summary>
/// The shadow queue: a full queue drops and counts without making the request wait, and a failing shadow is counted
/// and never thrown to anyone.
/// </summary>
public sealed class ShadowQueueTests
{
    [Test]
    public async Task TryEnqueue_WhenTheQueueIsFull_DropsAndCountsWithoutWaiting()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var dropped = new Counted(services, "formanova.experiment.shadow_dropped");
        var queue = Queue(services, capacity: 3);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var scored = 0;
        await queue.StartAsync(CancellationToken.None);

        var accepted = Enumerable.Range(0, 50).Count(_ => queue.TryEnqueue("exp", async _ =>
        {
            await gate.Task;
            Interlocked.Increment(ref scored);
        }));

        // Every call returned while the first shadow was still blocked: the caller never waits on the queue.
        Assert.That(gate.Task.IsCompleted, Is.False);
        gate.SetResult();
        await queue.DrainAsync(CancellationToken.None);
        await queue.StopAsync(CancellationToken.None);
        Assert.Multiple(() =>
        {
            Assert.That(accepted, Is.InRange(3, 4), "the queue's 3, and at most the one the loop had taken");
            Assert.That(scored, Is.EqualTo(accepted));
            Assert.That(dropped.Total, Is.EqualTo(50 - accepted));
        });
    }

    [Test]
    public async Task TryEnqueue_WhenAShadowFails_CountsItAndGoesOn()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var failures = new Counted(services, "formanova.experiment.shadow_failures");
        var queue = Queue(services, capacity: 10);
        var scored = 0;
        await queue.StartAsync(CancellationToken.None);

        queue.TryEnqueue("exp", _ => throw new InvalidOperationException("candidate broke"));
        queue.TryEnqueue("exp", _ => Task.FromException(new InvalidOperationException("candidate broke later")));
        queue.TryEnqueue("exp", _ =>
        {
            Interlocked.Increment(ref scored);
            return Task.CompletedTask;
        });
        await queue.DrainAsync(CancellationToken.None);
        await queue.StopAsync(CancellationToken.None);

        Assert.That((failures.Total, scored), Is.EqualTo((2L, 1)));
    }

    private static ShadowQueue Queue(ServiceProvider services, int capacity) =>
        new(
            Options.Create(new ModelOptions { Experiments = new() { ShadowQueueCapacity = capacity, ShadowConcurrency = 1 } }),
            new ModelMetrics(new FormanovaMetrics(services.GetRequiredService<IMeterFactory>())),
            NullLogger<ShadowQueue>.Instance);

    /// <summary>Adds up one counter of this test's meter only (tests in parallel have meters of the same name).</summary>
    private sealed class Counted : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _total;

        public Counted(ServiceProvider services, string name)
        {
            var scope = services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == name && ReferenceEquals(instrument.Meter.Scope, scope))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _total, value));
            _listener.Start();
        }

        public long Total => Interlocked.Read(ref _total);

        public void Dispose() => _listener.Dispose();
    }
}
