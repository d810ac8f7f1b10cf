using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model.Experiments;

/// <summary>
/// The running experiments per model, in memory (docs/experiments.md, "Routing"): a request reads a dictionary, never
/// the database. A change made by this instance reloads it at once; changes made by another replica arrive within
/// <c>Model:Inference:RegistryRefreshSeconds</c> (at least 1 s), by a reload one request starts in the background
/// while the others keep using the snapshot they have.
/// </summary>
internal sealed class ExperimentRouter(ExperimentStore store, IOptions<ModelOptions> options, ILogger<ExperimentRouter> logger)
    : IDisposable
{
    private readonly long _refreshMs = Math.Max(1, options.Value.Inference.RegistryRefreshSeconds) * 1000L;
    private readonly SemaphoreSlim _loading = new(1, 1);
    private volatile Snapshot? _snapshot;
    private int _refreshing;

    /// <summary>The running experiment of <paramref name="model"/>, if any.</summary>
    public ValueTask<RoutedExperiment?> FindAsync(string model, CancellationToken cancellationToken)
    {
        var snapshot = _snapshot;
        if (snapshot is null)
        {
            return FirstLoadAsync(model, cancellationToken);
        }

        if (snapshot.ExpiresAt <= Environment.TickCount64 && Interlocked.CompareExchange(ref _refreshing, 1, 0) == 0)
        {
            _ = RefreshInBackgroundAsync();
        }

        return ValueTask.FromResult(snapshot.Find(model));
    }

    /// <summary>Reads the running experiments now: after a change this instance made, before it returns to its caller.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        await _loading.WaitAsync(cancellationToken);
        try
        {
            var rows = await store.ListLiveAsync(cancellationToken);
            var running = new Dictionary<string, RoutedExperiment>(StringComparer.Ordinal);
            foreach (var row in rows.Where(r => r.ExperimentStatus == ExperimentStatus.Running))
            {
                running[row.Model] = RoutedExperiment.From(row.ToInfo());
            }

            _snapshot = new Snapshot(running, Environment.TickCount64 + _refreshMs);
        }
        finally
        {
            _loading.Release();
        }
    }

    public void Dispose() => _loading.Dispose();

    private async ValueTask<RoutedExperiment?> FirstLoadAsync(string model, CancellationToken cancellationToken)
    {
        try
        {
            await ReloadAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Predictions do not fail for want of the experiments: they are served unrouted until a reload works.
            logger.LogWarning(ex, "Could not read the running experiments; requests are not routed until a reload succeeds");
            _snapshot ??= new Snapshot(new Dictionary<string, RoutedExperiment>(), Environment.TickCount64 + _refreshMs);
        }

        return _snapshot?.Find(model);
    }

    private async Task RefreshInBackgroundAsync()
    {
        try
        {
            await ReloadAsync(CancellationToken.None);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not refresh the running experiments; the last snapshot keeps routing");
            var stale = _snapshot!;
            _snapshot = stale with { ExpiresAt = Environment.TickCount64 + _refreshMs };
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    private sealed record Snapshot(IReadOnlyDictionary<string, RoutedExperiment> Running, long ExpiresAt)
    {
        public RoutedExperiment? Find(string model) => Running.TryGetValue(model, out var experiment) ? experiment : null;
    }
}
