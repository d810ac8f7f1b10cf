namespace Formanova.Modules.Model.Preloading;

/// <summary>
/// The most frequent keys of a stream in fixed space (Metwally, Agrawal and El Abbadi's space-saving algorithm): at most
/// <c>capacity</c> counters; a new key takes over the smallest counter and inherits its count, so any key seen more than
/// n / capacity times is kept. Offers never wait: one that finds the sketch busy is dropped, which only thins the sample.
/// </summary>
internal sealed class HotKeySketch(int capacity)
{
    private readonly Dictionary<string, long> _counts = new(capacity, StringComparer.Ordinal);
    private readonly object _gate = new();

    public int Capacity => capacity;

    /// <summary>Counts <paramref name="key"/> unless another thread holds the sketch; false when dropped.</summary>
    public bool TryOffer(string key)
    {
        if (!Monitor.TryEnter(_gate))
        {
            return false;
        }

        try
        {
            Offer(key, 1);
            return true;
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    /// <summary>The <paramref name="count"/> keys counted most, most first.</summary>
    public IReadOnlyList<string> Top(int count)
    {
        lock (_gate)
        {
            return [.. _counts.OrderByDescending(e => e.Value).ThenBy(e => e.Key, StringComparer.Ordinal).Take(count).Select(e => e.Key)];
        }
    }

    /// <summary>Halves every count, so keys that went cold give way to the current ones.</summary>
    public void Decay()
    {
        lock (_gate)
        {
            foreach (var key in _counts.Keys.ToList())
            {
                var halved = _counts[key] / 2;
                if (halved == 0)
                {
                    _counts.Remove(key);
                }
                else
                {
                    _counts[key] = halved;
                }
            }
        }
    }

    private void Offer(string key, long weight)
    {
        ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_counts, key);
        if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref slot))
        {
            slot += weight;
            return;
        }

        if (_counts.Count < capacity)
        {
            _counts.Add(key, weight);
            return;
        }

        string? smallest = null;
        var least = long.MaxValue;
        foreach (var (candidate, count) in _counts)
        {
            if (count < least)
            {
                (smallest, least) = (candidate, count);
            }
        }

        _counts.Remove(smallest!);
        _counts.Add(key, least + weight);
    }
}
