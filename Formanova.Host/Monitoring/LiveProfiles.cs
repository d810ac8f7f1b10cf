using System.Collections.Concurrent;
using System.Collections.Frozen;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Monitoring;

/// <summary>
/// The Model module's <see cref="IPredictionInputObserver"/>: counts the sampled predictions of monitored models into
/// each version's <see cref="LiveTracker"/> and flushes the windows to the monitoring tables every
/// <c>Monitoring:WindowSeconds</c> (docs/monitoring.md). The predict path pays a set lookup and a sample draw, and for a
/// counted prediction one increment per feature; the reference profile is read off the path, the first prediction of a
/// version only starting that read.
/// </summary>
internal sealed class LiveProfiles : IPredictionInputObserver, IHostedService, IDisposable
{
    private readonly Lazy<IModelModule> _models;
    private readonly IModelMonitoringModule _monitoring;
    private readonly MonitoringOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<LiveProfiles> _logger;
    private readonly ConcurrentDictionary<(string Model, string Version), Slot> _slots = new();
    private readonly Func<(string Model, string Version), Slot> _create;
    private readonly CancellationTokenSource _stopping = new();
    private FrozenSet<string> _watched = FrozenSet<string>.Empty;
    private Task _loop = Task.CompletedTask;
    private int _fullLogged;
    private int _disposed;

    // The Model module is resolved on first use: it takes this observer in its own constructor.
    public LiveProfiles(
        IServiceProvider services,
        IModelMonitoringModule monitoring,
        IOptions<MonitoringOptions> options,
        TimeProvider clock,
        ILogger<LiveProfiles> logger)
    {
        _models = new Lazy<IModelModule>(services.GetRequiredService<IModelModule>);
        _monitoring = monitoring;
        _options = options.Value;
        _clock = clock;
        _logger = logger;
        _create = key => new Slot(key.Model, key.Version);
    }

    /// <summary>The versions being counted, for the tests of boundedness and the gauges.</summary>
    public IEnumerable<LiveTracker> Trackers => _slots.Values.Select(s => s.Tracker).OfType<LiveTracker>();

    public bool Watches(string model) =>
        _options.Enabled
        && _watched.Contains(model)
        && (_options.SampleRate >= 1 || Random.Shared.NextDouble() < _options.SampleRate);

    public void Observed(
        PredictionResult result,
        IReadOnlyList<ModelColumn> features,
        ReadOnlySpan<float> floats,
        ReadOnlySpan<string> texts)
    {
        if (!_slots.TryGetValue((result.Model, result.Version), out var slot))
        {
            if (_slots.Count >= _options.MaxTrackedVersions)
            {
                if (Interlocked.Exchange(ref _fullLogged, 1) == 0)
                {
                    _logger.LogWarning("Monitoring counts at most {Max} versions (Monitoring:MaxTrackedVersions); others are not counted.",
                        _options.MaxTrackedVersions);
                }

                return;
            }

            slot = _slots.GetOrAdd((result.Model, result.Version), _create);
            _ = slot.StartLoading(this);
        }

        slot.Tracker?.Observe(result, features, floats, texts);
    }

    /// <summary>
    /// Counts <paramref name="model"/> from now on (a policy was enabled on this instance), its active version's
    /// profile read before this returns, so that its very next prediction is counted.
    /// </summary>
    public async Task WatchAsync(string model, CancellationToken cancellationToken)
    {
        _watched = _watched.Append(model).ToFrozenSet(StringComparer.Ordinal);
        await PrepareAsync(model, cancellationToken);
    }

    /// <summary>Stops counting <paramref name="model"/> and forgets its trackers (its windows so far are flushed first).</summary>
    public async Task UnwatchAsync(string model, CancellationToken cancellationToken)
    {
        _watched = _watched.Where(m => m != model).ToFrozenSet(StringComparer.Ordinal);
        await FlushAsync(cancellationToken);
        foreach (var key in _slots.Keys.Where(k => k.Model == model))
        {
            _slots.TryRemove(key, out _);
        }
    }

    /// <summary>Ends every version's window now and writes those that saw traffic.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow();
        var windows = _slots.Values.Select(s => s.Tracker?.Drain(now)).OfType<LiveWindow>().ToList();
        if (windows.Count == 0)
        {
            return;
        }

        // Under the policy change that asked for it; from the loop, work of its own.
        await BackgroundTracing.WorkOrChildAsync(
            "FlushMonitoringWindows", () => _monitoring.AppendWindowsAsync(windows, cancellationToken));
    }

    /// <summary>Reads the enabled policies: the models to count.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        // A poll (docs/observability.md, "Background loops"): a profile it finds to read is traced on its own, below.
        using var quiet = BackgroundTracing.Quiet();
        var policies = await _monitoring.ListPoliciesAsync(cancellationToken);
        _watched = policies.Where(p => p.Enabled).Select(p => p.Model).ToFrozenSet(StringComparer.Ordinal);
        foreach (var model in _watched)
        {
            await PrepareAsync(model, cancellationToken);
        }
    }

    // The active version is the one about to be asked: its profile is read ahead of its traffic.
    private async Task PrepareAsync(string model, CancellationToken cancellationToken)
    {
        try
        {
            var active = await _models.Value.ResolveVersionAsync(model, cancellationToken: cancellationToken);
            if (_slots.Count < _options.MaxTrackedVersions || _slots.ContainsKey((active.Name, active.Version)))
            {
                await _slots.GetOrAdd((active.Name, active.Version), _create).StartLoading(this);
            }
        }
        catch (ModuleException ex) when (ex.Kind == ErrorKind.NotFound)
        {
            // No active version yet: its first version is read at its first prediction.
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Enabled)
        {
            return;
        }

        try
        {
            await RefreshAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.LogWarning(ex, "Monitoring could not read its policies at start; it retries every {Seconds} s.",
                _options.PolicyRefreshSeconds);
        }

        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            await _stopping.CancelAsync();
        }

        await _loop;
        try
        {
            await FlushAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.LogWarning(ex, "Monitoring could not write its last live window at shutdown.");
        }
    }

    // A test host may dispose the services before it stops the hosted ones: the loop is stopped here then.
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _stopping.Cancel();
            _stopping.Dispose();
        }
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        var window = TimeSpan.FromSeconds(_options.WindowSeconds);
        var refresh = TimeSpan.FromSeconds(_options.PolicyRefreshSeconds);
        var tick = TimeSpan.FromSeconds(Math.Min(_options.WindowSeconds, _options.PolicyRefreshSeconds));
        var (flushed, refreshed, swept) = (_clock.GetUtcNow(), _clock.GetUtcNow(), DateTimeOffset.MinValue);
        using var timer = new PeriodicTimer(tick, _clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                var now = _clock.GetUtcNow();
                try
                {
                    if (now - refreshed >= refresh)
                    {
                        await RefreshAsync(stopping);
                        refreshed = now;
                    }

                    if (now - flushed >= window)
                    {
                        await FlushAsync(stopping);
                        flushed = now;
                    }

                    if (now - swept >= TimeSpan.FromHours(1))
                    {
                        // Untraced, as the event log's retention sweep is: its delete is poll and work at once.
                        using var quiet = BackgroundTracing.Quiet();
                        await _monitoring.SweepAsync(now.AddDays(-_options.RetentionDays), stopping);
                        swept = now;
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _logger.LogWarning(ex, "Monitoring could not write its live windows; it retries at the next tick.");
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>A version's place: empty until its reference profile is read, then its tracker (none without a profile).</summary>
    private sealed class Slot(string model, string version)
    {
        private Task? _loaded;

        public LiveTracker? Tracker { get; private set; }

        public Task StartLoading(LiveProfiles owner)
        {
            if (_loaded is { } loading)
            {
                return loading;
            }

            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (Interlocked.CompareExchange(ref _loaded, started.Task, null) is { } other)
            {
                return other;
            }

            _ = Task.Run(async () =>
            {
                try
                {
                    await LoadAsync(owner);
                }
                finally
                {
                    started.TrySetResult();
                }
            });
            return started.Task;
        }

        // Under the prediction or the policy change that asked for it; found by a quiet refresh, a root of its own.
        private Task LoadAsync(LiveProfiles owner) => BackgroundTracing.WorkOrChildAsync("LoadReferenceProfile", () => ReadAsync(owner));

        private async Task ReadAsync(LiveProfiles owner)
        {
            try
            {
                var info = await owner._models.Value.GetVersionAsync(model, version, owner._stopping.Token);
                if (info.Report?.Profile is { } profile)
                {
                    Tracker = new LiveTracker(model, version, profile, owner._clock.GetUtcNow());
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                owner._logger.LogWarning(
                    ex, "Monitoring could not read the profile of {Model} {Version}; it is not counted.", model, version);
            }
        }
    }
}
