using System.Collections.Concurrent;
using Formanova.Modules.Model.Registry;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model.Preloading;

/// <summary>
/// What this instance served since start: per (model, version) a request count, the last access and a sketch of the
/// hot cache keys. A request costs a dictionary lookup, an interlocked increment and a store; a sampled cacheable lookup
/// also offers its key to the sketch, which never waits. <see cref="ModelPreloader"/> writes it to the database.
/// </summary>
internal sealed class ModelAccessLog(IOptions<ModelOptions> options)
{
    private readonly ModelOptions.PreloadOptions _options = options.Value.Preload;
    private readonly ConcurrentDictionary<(string Name, string Version), VersionAccess> _versions = new();

    public VersionAccess For(ModelVersionRow row) =>
        _versions.GetOrAdd(
            (row.Name, row.Version),
            static (key, o) => new VersionAccess(key.Name, key.Version, o.HotKeysPerVersion * 2, o.HotKeySampling),
            _options);

    public IReadOnlyCollection<VersionAccess> Versions => [.. _versions.Values];
}

/// <summary>One version's access record; written by requests, read by the flush.</summary>
internal sealed class VersionAccess(string name, string version, int sketchCapacity, int sampling)
{
    private long _requests;
    private long _flushedRequests;
    private long _lastAccessTicks;
    private long _offers;
    private long _keysOffered;
    private long _flushedKeysOffered;

    public string Name => name;

    public string Version => version;

    public HotKeySketch Keys { get; } = new(sketchCapacity);

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>When this version was last asked for, as <see cref="Environment.TickCount64"/>; 0 when never.</summary>
    public long LastAccessTicks => Interlocked.Read(ref _lastAccessTicks);

    public void Hit()
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Exchange(ref _lastAccessTicks, Environment.TickCount64);
    }

    /// <summary>Offers one lookup's cache key in every <c>sampling</c>.</summary>
    public void OfferKey(string key)
    {
        if (sampling > 1 && Interlocked.Increment(ref _offers) % sampling != 0)
        {
            return;
        }

        if (Keys.TryOffer(key))
        {
            Interlocked.Increment(ref _keysOffered);
        }
    }

    /// <summary>Requests since the last flush and whether the sketch took keys since then; marks them flushed.</summary>
    public (long Requests, bool KeysChanged) TakeDelta()
    {
        var requests = Requests;
        var offered = Interlocked.Read(ref _keysOffered);
        var delta = requests - Interlocked.Exchange(ref _flushedRequests, requests);
        var keysChanged = offered != Interlocked.Exchange(ref _flushedKeysOffered, offered);
        return (delta, keysChanged);
    }

    /// <summary>Gives back a delta a failed flush could not write, so the next flush writes it.</summary>
    public void Restore(long requests, bool keysChanged)
    {
        Interlocked.Add(ref _flushedRequests, -requests);
        if (keysChanged)
        {
            Interlocked.Decrement(ref _flushedKeysOffered);
        }
    }
}
