using System.Diagnostics;
using System.Text.Json;
using Formanova.Modules.Model.Inference;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Caching;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model.Preloading;

/// <summary>Where the start-up preload is: what /health/ready reports (<see cref="PreloadHealthCheck"/>).</summary>
internal enum PreloadStage
{
    Pending,
    Running,
    Done,
    Disabled,
}

/// <summary>
/// Loads versions ahead of traffic (docs/model.md, "Preloading"). At start, in the background: the active and aliased
/// versions, then those of each <see cref="ModelPreloadSource"/>, then those with recent traffic in
/// <c>model_access</c>, up to <c>Model:Preload:MaxVersions</c>; then the stored hot keys of the loaded versions are copied
/// from L2 into L1, up to <c>MaxHotKeys</c>. Before a switch, <see cref="BeforeSwitchAsync"/> loads and probes the
/// incoming version. Meanwhile it writes the <see cref="ModelAccessLog"/> to <c>model_access</c> every
/// <c>FlushSeconds</c> and at shutdown. A failure is logged and never stops the host.
/// </summary>
internal sealed class ModelPreloader(
    ModelRegistry registry,
    ModelRuntime runtime,
    ModelAccessLog accessLog,
    ModelAccessStore store,
    ITwoLevelCache cache,
    ModelMetrics metrics,
    IEnumerable<ModelPreloadSource> sources,
    IOptions<ModelOptions> options,
    TimeProvider clock,
    ILogger<ModelPreloader> logger) : BackgroundService
{
    private static readonly TimeSpan ShutdownFlushTimeout = TimeSpan.FromSeconds(5);

    private readonly ModelOptions.PreloadOptions _options = options.Value.Preload;
    private readonly int _maxVersions = Math.Min(options.Value.Preload.MaxVersions, options.Value.Inference.MaxLoadedModels);
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _flushGate = new(1, 1);
    private volatile PreloadStage _stage = options.Value.Preload.Enabled ? PreloadStage.Pending : PreloadStage.Disabled;
    private int _versionsLoaded;
    private int _versionsPlanned;
    private int _keysWarmed;

    /// <summary>Completes when the start-up preload has finished (or failed and been logged), or at once when disabled.</summary>
    public Task Completed => _completed.Task;

    public PreloadStage Stage => _stage;

    public bool HoldsReadiness => _options.HoldReadiness;

    public (int Loaded, int Planned, int KeysWarmed) Progress => (_versionsLoaded, _versionsPlanned, _keysWarmed);

    /// <summary>
    /// Loads and probes <paramref name="row"/> before it becomes active or an alias's target, so the first request after
    /// the switch finds it loaded. A version that fails is logged as a warning and counted; the switch goes ahead as it
    /// always has, and requests fall back as at run time (docs/model.md, "Fallback at run time").
    /// </summary>
    public async Task BeforeSwitchAsync(ModelVersionRow row, string switchTo, CancellationToken cancellationToken)
    {
        if (!_options.Enabled)
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        var outcome = "loaded";
        try
        {
            await runtime.GetAsync(row, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            outcome = "failed";
            logger.LogWarning(
                ex,
                "{Model} {Version} failed to load before becoming {Target}; switching anyway, requests fall back until it loads",
                row.Name,
                row.Version,
                switchTo);
        }

        Record("switch", outcome, 1);
        RecordDuration("switch", started);
    }

    /// <summary>Writes what was served since the last flush to <c>model_access</c>; a failure keeps it for the next one.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _flushGate.WaitAsync(cancellationToken);
        try
        {
            var nowTicks = Environment.TickCount64;
            var now = clock.GetUtcNow();
            var taken = new List<(VersionAccess Access, long Requests, bool KeysChanged)>();
            var rows = new List<ModelAccessRow>();
            foreach (var access in accessLog.Versions)
            {
                var (requests, keysChanged) = access.TakeDelta();
                if (requests == 0 && !keysChanged)
                {
                    continue;
                }

                taken.Add((access, requests, keysChanged));
                var keys = keysChanged ? access.Keys.Top(_options.HotKeysPerVersion) : [];
                rows.Add(new ModelAccessRow
                {
                    Name = access.Name,
                    Version = access.Version,
                    Requests = requests,
                    LastAccessAt = now - TimeSpan.FromMilliseconds(Math.Max(0, nowTicks - access.LastAccessTicks)),
                    HotKeysJson = keys.Count == 0 ? null : JsonSerializer.Serialize(keys),
                });
                if (keysChanged)
                {
                    access.Keys.Decay();
                }
            }

            try
            {
                if (rows.Count > 0)
                {
                    await BackgroundTracing.WorkAsync("FlushModelAccess", _ => store.WriteAsync(rows, now, cancellationToken));
                }
            }
            catch
            {
                foreach (var (access, requests, keysChanged) in taken)
                {
                    access.Restore(requests, keysChanged);
                }

                throw;
            }
        }
        finally
        {
            _flushGate.Release();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ShutdownFlushTimeout);
        await FlushQuietlyAsync("at shutdown", timeout.Token);
    }

    public override void Dispose()
    {
        base.Dispose();
        _flushGate.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        if (_options.Enabled)
        {
            // Start-up work of its own: its registry and access queries are one trace, not a scatter of SQL roots.
            await BackgroundTracing.WorkAsync("PreloadModels", _ => PreloadAtStartAsync(stoppingToken));
        }

        _completed.TrySetResult();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.FlushSeconds), clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushQuietlyAsync("periodically", stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: StopAsync writes the last flush.
        }
    }

    private async Task FlushQuietlyAsync(string when, CancellationToken cancellationToken)
    {
        try
        {
            await FlushAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Writing the model access record {When} failed; it is kept for the next flush", when);
        }
        catch (OperationCanceledException)
        {
            logger.LogWarning("Writing the model access record {When} timed out", when);
        }
    }

    private async Task PreloadAtStartAsync(CancellationToken stoppingToken)
    {
        _stage = PreloadStage.Running;
        var started = Stopwatch.GetTimestamp();
        try
        {
            var recent = await store.ListRecentAsync(clock.GetUtcNow().AddHours(-_options.RecentHours), stoppingToken);
            var plan = await PlanAsync(recent, stoppingToken);
            _versionsPlanned = plan.Count;
            var loaded = new List<ModelVersionRow>();
            foreach (var row in plan)
            {
                try
                {
                    await runtime.GetAsync(row, stoppingToken);
                    loaded.Add(row);
                    Interlocked.Increment(ref _versionsLoaded);
                    Record("start", "loaded", 1);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Record("start", "failed", 1);
                    logger.LogWarning(
                        ex,
                        "Preload: {Model} {Version} failed to load; it loads on its first request",
                        row.Name,
                        row.Version);
                }
            }

            var warmed = await WarmKeysAsync(loaded, recent, stoppingToken);
            logger.LogInformation(
                "Preload: loaded {Loaded} of {Planned} versions and copied {Keys} cached predictions into L1 in {Milliseconds:F0} ms",
                loaded.Count,
                plan.Count,
                warmed,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Preload at start failed; versions load on their first request");
        }
        finally
        {
            RecordDuration("start", started);
            _stage = PreloadStage.Done;
        }
    }

    /// <summary>The versions to load, in order: active and aliased (busiest first), each source's, recent traffic.</summary>
    private async Task<List<ModelVersionRow>> PlanAsync(IReadOnlyList<ModelAccessRow> recent, CancellationToken cancellationToken)
    {
        var versions = (await registry.ListAsync(null, cancellationToken))
            .Where(r => r.VersionStatus != ModelVersionStatus.Failed)
            .ToDictionary(r => (r.Name, r.Version));
        var aliased = (await registry.ListAliasesAsync(null, cancellationToken)).Select(a => (a.Name, a.Version)).ToHashSet();
        var traffic = recent.ToDictionary(r => (r.Name, r.Version), r => r.Requests);
        var order = versions.Values
            .Where(r => r.VersionStatus == ModelVersionStatus.Active || aliased.Contains((r.Name, r.Version)))
            .OrderByDescending(r => traffic.GetValueOrDefault((r.Name, r.Version)))
            .ThenBy(r => r.VersionStatus == ModelVersionStatus.Active ? 0 : 1)
            .Select(r => (r.Name, r.Version))
            .ToList();
        foreach (var source in sources)
        {
            try
            {
                var candidates = await source.ListAsync(cancellationToken);
                order.AddRange(candidates.Select(c => (ModelNames.Name(c.Model), ModelNames.Version(c.Version))));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Preload: the source {Source} failed; its versions are skipped", source.Name);
            }
        }

        order.AddRange(recent.Select(r => (r.Name, r.Version)));
        return [.. order.Distinct().Select(k => versions.GetValueOrDefault(k)).OfType<ModelVersionRow>().Take(_maxVersions)];
    }

    private async Task<int> WarmKeysAsync(
        List<ModelVersionRow> loaded,
        IReadOnlyList<ModelAccessRow> recent,
        CancellationToken cancellationToken)
    {
        if (_options.MaxHotKeys == 0 || !cache.L2Available)
        {
            return 0;
        }

        var stored = recent.ToDictionary(r => (r.Name, r.Version));
        var keys = loaded
            .SelectMany(row => stored.GetValueOrDefault((row.Name, row.Version))?.HotKeys ?? [])
            .Take(_options.MaxHotKeys);
        foreach (var key in keys)
        {
            if (await cache.WarmAsync<PredictionResult>(ModelService.CacheArea, key, cancellationToken))
            {
                Interlocked.Increment(ref _keysWarmed);
                metrics.WarmedKeys.Add(1);
            }
        }

        return _keysWarmed;
    }

    private void RecordDuration(string trigger, long started) =>
        metrics.PreloadDuration.Record(
            Stopwatch.GetElapsedTime(started).TotalSeconds,
            new KeyValuePair<string, object?>("trigger", trigger));

    private void Record(string trigger, string outcome, long count) =>
        metrics.PreloadedVersions.Add(count, new("trigger", trigger), new("outcome", outcome));
}
