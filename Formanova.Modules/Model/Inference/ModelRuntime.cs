using System.Collections.Concurrent;
using System.Diagnostics;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model.Inference;

/// <summary>
/// Loaded versions (lazily, once each, at most <c>MaxLoadedModels</c>, least recently used dropped first) and a
/// short-lived copy of the registry's answers (active version, aliases, version rows) so the fast path does not
/// read the database per request. A request keeps the <see cref="LoadedModel"/> it resolved, so switching or
/// eviction never disturbs a prediction already running.
/// </summary>
internal sealed class ModelRuntime(
    ModelRegistry registry,
    ModelMetrics metrics,
    IOptions<ModelOptions> options,
    ILogger<ModelRuntime> logger)
{
    private readonly ModelOptions.InferenceOptions _options = options.Value.Inference;
    private readonly ModelOptions.OnnxOptions _onnx = options.Value.Onnx;
    private readonly ConcurrentDictionary<(string Name, string Version), Entry> _loaded = new();
    private readonly ConcurrentDictionary<string, Remembered> _resolved = new(StringComparer.Ordinal);
    private readonly object _evictionGate = new();

    public int LoadedCount => _loaded.Count;

    public bool IsLoaded(string name, string version)
        => _loaded.TryGetValue((name, version), out var entry) && entry.Model.IsCompletedSuccessfully;

    /// <summary>The version a request means: the pinned version, the alias's target, or the active version.</summary>
    public async ValueTask<ModelVersionRow> ResolveAsync(string name, string? version, string? alias, CancellationToken cancellationToken)
    {
        var cacheKey = version is not null ? $"v\n{name}\n{version}" : alias is not null ? $"a\n{name}\n{alias}" : name;
        if (_resolved.TryGetValue(cacheKey, out var remembered) && remembered.ExpiresAt > Environment.TickCount64)
        {
            return remembered.Row;
        }

        ModelVersionRow row;
        if (version is not null)
        {
            row = await registry.GetAsync(name, version, cancellationToken);
        }
        else if (alias is not null)
        {
            var target = await registry.FindAliasAsync(name, alias, cancellationToken)
                ?? throw ModuleException.NotFound("Alias", $"{name}@{alias}");
            row = await registry.GetAsync(name, target, cancellationToken);
        }
        else
        {
            row = await registry.FindActiveAsync(name, cancellationToken)
                ?? throw new ModuleException(ErrorKind.NotFound, (await registry.ListAsync(name, cancellationToken)).Count == 0
                    ? $"Model '{name}' was not found."
                    : $"Model '{name}' has no active version; activate one first.");
        }

        if (_options.RegistryRefreshSeconds > 0)
        {
            _resolved[cacheKey] = new Remembered(row, Environment.TickCount64 + (_options.RegistryRefreshSeconds * 1000L));
        }

        return row;
    }

    /// <summary>Forgets what this instance remembered about a model's registry state, after a change made here.</summary>
    public void Forget(string name)
    {
        foreach (var key in _resolved.Keys.Where(k => k == name || k.Contains("\n" + name + "\n", StringComparison.Ordinal)))
        {
            _resolved.TryRemove(key, out _);
        }
    }

    public static ColumnBinding[] Layout(ModelVersionRow row) => row.Layout;

    public ValueTask<LoadedModel> GetAsync(ModelVersionRow row, CancellationToken cancellationToken)
    {
        var key = (row.Name, row.Version);
        if (_loaded.TryGetValue(key, out var entry) && entry.Sha == row.Sha256)
        {
            entry.Touch();
            if (entry.Model.IsCompletedSuccessfully)
            {
                return ValueTask.FromResult(entry.Model.Result);
            }
        }
        else
        {
            // Lazy: of several racing first requests only the entry that wins the dictionary starts a load.
            entry = new Entry(row.Sha256, () => LoadAsync(row));
            entry = _loaded.AddOrUpdate(
                key,
                entry,
                (_, existing) => existing.Sha == row.Sha256 && !existing.Model.IsFaulted ? existing : entry);
            TrimToCapacity();
        }

        return new ValueTask<LoadedModel>(AwaitLoad(key, entry, cancellationToken));
    }

    /// <summary>Loads a version without keeping it, to check it.</summary>
    public async Task<LoadedModel> LoadDetachedAsync(ModelVersionRow row, CancellationToken cancellationToken)
    {
        var path = await registry.EnsureLocalAsync(row, cancellationToken);
        await using var zip = File.OpenRead(path);
        return row.ModelFramework == ModelFramework.Ensemble
            ? await LoadEnsembleAsync(row, zip, cancellationToken)
            : LoadedModel.Load(row, zip, 1, _onnx);
    }

    /// <summary>
    /// An ensemble over its members' loaded versions (shared with every other request for them). A member whose version
    /// does not load is answered by its model's previous stable version, as a single active version would be; the
    /// ensemble fails to load only when such a member has none.
    /// </summary>
    public async Task<LoadedModel> LoadEnsembleAsync(ModelVersionRow row, Stream artifact, CancellationToken cancellationToken)
    {
        var manifest = EnsembleArtifact.Read(row, artifact);
        var members = new EnsembleMemberModel[manifest.Info.Members.Count];
        for (var i = 0; i < members.Length; i++)
        {
            members[i] = await LoadMemberAsync(row, manifest.Info.Members[i], cancellationToken);
        }

        LoadedModel? meta = null;
        var classes = row.ModelTask == ModelTask.Regression ? [] : members[0].Model.Classes ?? [];
        if (manifest.MetaLearner is { } metaZip)
        {
            using var stream = new MemoryStream(metaZip, writable: false);
            meta = LoadedModel.Load(
                EnsembleBackend.MetaRow(row.Name, row.Version, row.ModelTask, manifest.Info.MetaFeatures ?? []),
                stream,
                _options.EnginesPerModel);
        }

        return LoadedModel.Create(row, new EnsembleBackend(row.ModelTask, classes, members, meta));
    }

    private async Task<EnsembleMemberModel> LoadMemberAsync(
        ModelVersionRow ensemble,
        EnsembleMember member,
        CancellationToken cancellationToken)
    {
        async Task<LoadedModel?> PreviousAsync()
        {
            var previous = await PreviousStableAsync(member.Model, member.Version, CancellationToken.None);
            if (previous is null)
            {
                return null;
            }

            metrics.Fallbacks.Add(1,
                new KeyValuePair<string, object?>("model", member.Model),
                new KeyValuePair<string, object?>("from", member.Version),
                new KeyValuePair<string, object?>("to", previous.Version));
            return await GetAsync(previous, CancellationToken.None);
        }

        try
        {
            var memberRow = await registry.FindAsync(member.Model, member.Version, cancellationToken)
                ?? throw ModuleException.NotFound("Model version", $"{member.Model} {member.Version}");
            return new EnsembleMemberModel(member, await GetAsync(memberRow, cancellationToken), ensemble.Layout, null, PreviousAsync);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(
                ex,
                "Member {Member} {MemberVersion} of ensemble {Model} {Version} did not load; trying its previous stable version",
                member.Model,
                member.Version,
                ensemble.Name,
                ensemble.Version);
            var fallback = await PreviousAsync() ?? throw new ModuleException(
                ErrorKind.Unavailable,
                $"Member {member.Model} {member.Version} of {ensemble.Name} {ensemble.Version} did not load ({ex.Message}) and its "
                + "model has no previous stable version.",
                inner: ex);
            return new EnsembleMemberModel(member, fallback, ensemble.Layout, ex.Message, () => Task.FromResult<LoadedModel?>(null));
        }
    }

    public void Unload(string name, string version)
    {
        if (_loaded.TryRemove((name, version), out var entry))
        {
            entry.Retire();
        }
    }

    public void UnloadAll(string name)
    {
        foreach (var key in _loaded.Keys.Where(k => k.Name == name))
        {
            Unload(key.Name, key.Version);
        }
    }

    /// <summary>
    /// The version a failed active version falls back to at run time: the most recently active one that is neither
    /// failed nor archived.
    /// </summary>
    public async Task<ModelVersionRow?> PreviousStableAsync(string name, string failedVersion, CancellationToken cancellationToken) =>
        (await registry.ListAsync(name, cancellationToken))
            .Where(r => r.Version != failedVersion && r.ActivatedAt is not null && r.VersionStatus == ModelVersionStatus.Registered)
            .OrderByDescending(r => r.ActivatedAt)
            .FirstOrDefault();

    private async Task<LoadedModel> AwaitLoad((string Name, string Version) key, Entry entry, CancellationToken cancellationToken)
    {
        try
        {
            return await entry.Model.WaitAsync(cancellationToken);
        }
        catch (Exception) when (entry.Model.IsFaulted)
        {
            // A failed load is not cached: the next request tries again (the file may have been repaired).
            _loaded.TryRemove(new KeyValuePair<(string, string), Entry>(key, entry));
            throw;
        }
    }

    private async Task<LoadedModel> LoadAsync(ModelVersionRow row)
    {
        await Task.Yield();
        var started = Stopwatch.GetTimestamp();
        try
        {
            var path = await registry.EnsureLocalAsync(row, CancellationToken.None);
            await using var zip = File.OpenRead(path);
            var model = row.ModelFramework == ModelFramework.Ensemble
                ? await LoadEnsembleAsync(row, zip, CancellationToken.None)
                : LoadedModel.Load(row, zip, _options.EnginesPerModel, _onnx);
            metrics.Loads.Add(1, new KeyValuePair<string, object?>("outcome", "loaded"));
            logger.LogInformation(
                "Loaded model {Model} {Version} in {Milliseconds:F0} ms",
                row.Name,
                row.Version,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return model;
        }
        catch (Exception ex)
        {
            metrics.Loads.Add(1, new KeyValuePair<string, object?>("outcome", "failed"));
            logger.LogError(ex, "Loading model {Model} {Version} failed", row.Name, row.Version);
            throw;
        }
    }

    private void TrimToCapacity()
    {
        if (_loaded.Count <= _options.MaxLoadedModels)
        {
            return;
        }

        lock (_evictionGate)
        {
            while (_loaded.Count > _options.MaxLoadedModels)
            {
                var oldest = _loaded.MinBy(e => e.Value.LastUsed);
                if (_loaded.TryRemove(oldest))
                {
                    oldest.Value.Retire();
                    logger.LogInformation(
                        "Unloaded model {Model} {Version} (least recently used of {Max})",
                        oldest.Key.Name,
                        oldest.Key.Version,
                        _options.MaxLoadedModels);
                }
            }
        }
    }

    private sealed class Entry(string sha, Func<Task<LoadedModel>> load)
    {
        private readonly Lazy<Task<LoadedModel>> _model = new(load);
        private long _lastUsed = Stopwatch.GetTimestamp();

        public string Sha { get; } = sha;

        public Task<LoadedModel> Model => _model.Value;

        public long LastUsed => Interlocked.Read(ref _lastUsed);

        public void Touch() => Interlocked.Exchange(ref _lastUsed, Stopwatch.GetTimestamp());

        /// <summary>Releases the backend once it is loaded; a load never started has nothing to release.</summary>
        public void Retire()
        {
            if (_model.IsValueCreated)
            {
                _ = _model.Value.ContinueWith(
                    t => t.Result.Backend.Retire(),
                    CancellationToken.None,
                    TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
        }
    }

    private sealed record Remembered(ModelVersionRow Row, long ExpiresAt);
}
