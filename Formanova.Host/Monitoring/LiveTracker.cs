using Formanova.Modules.Model;

namespace Formanova.Host.Monitoring;

/// <summary>
/// One version's live counts in the terms of its reference profile. Every count is a slot of a flat array; each
/// processor increments its own stripe with Interlocked, so predictions running at the same time on two cores never
/// share a cache line and never take a lock. (Striping by thread id let two cores' threads land on one stripe, and
/// every increment then moved a cache line between the cores.) A window is swapped out whole at flush time; an
/// increment racing the swap lands in the window being flushed or the next; one that lands in the old window after
/// its counts were read is lost (at most the predictions in flight at that instant: a sample's rounding, not worth a
/// lock on the path).
/// </summary>
internal sealed class LiveTracker
{
    // Slot 0..7 and the last 8 of each stripe stay unused, so two stripes never share a cache line.
    private const int Pad = 8;
    private const int RowsSlot = Pad;
    private readonly ReferenceProfile _reference;
    private readonly Column[] _columns;
    private readonly Column _prediction;
    private readonly int _width;
    private readonly int _stripes;
    private Binding? _binding;
    private Window _window;

    public LiveTracker(string model, string version, ReferenceProfile reference, DateTimeOffset now)
    {
        Model = model;
        Version = version;
        _reference = reference;
        var offset = RowsSlot + 1;
        _columns = [.. reference.Features.Select(f => Column.Of(f, ref offset))];
        _prediction = Column.Of(reference.Predictions, ref offset);
        _width = offset + Pad;
        _stripes = Math.Clamp(Environment.ProcessorCount, 1, 16);
        _window = new Window(now, _stripes, _width);
    }

    public string Model { get; }

    public string Version { get; }

    /// <summary>The size of the counters: fixed by the reference profile, whatever the traffic.</summary>
    public int Slots => _width * _stripes;

    public void Observe(
        PredictionResult result,
        IReadOnlyList<ModelColumn> features,
        ReadOnlySpan<float> floats,
        ReadOnlySpan<string> texts)
    {
        var positions = Bind(features);
        var counts = _window.Stripes[Thread.GetCurrentProcessorId() % _stripes];
        Interlocked.Increment(ref counts[RowsSlot]);
        for (var i = 0; i < positions.Length; i++)
        {
            var at = positions[i];
            if (at < 0)
            {
                continue;
            }

            var column = _columns[i];
            if (column.IsNumeric)
            {
                column.CountNumber(counts, floats[at]);
            }
            else
            {
                column.CountText(counts, texts[at]);
            }
        }

        if (_prediction.IsNumeric)
        {
            _prediction.CountNumber(counts, result.Value is { } value ? (float)value : float.NaN);
        }
        else
        {
            _prediction.CountText(counts, result.Label ?? "");
        }
    }

    /// <summary>Swaps in a fresh window and returns the counts of the one that ended, or null when it saw nothing.</summary>
    public LiveWindow? Drain(DateTimeOffset now)
    {
        var ended = Interlocked.Exchange(ref _window, new Window(now, _stripes, _width));
        var total = new long[_width];
        foreach (var stripe in ended.Stripes)
        {
            for (var i = 0; i < _width; i++)
            {
                total[i] += Interlocked.Read(ref stripe[i]);
            }
        }

        return total[RowsSlot] == 0
            ? null
            : new LiveWindow(
                Model,
                Version,
                ended.Start,
                now,
                total[RowsSlot],
                [.. _columns.Select(c => c.Read(total))],
                _prediction.Read(total));
    }

    // The layout a version's row gives is one array per row instance: bound once, then only compared by reference.
    private int[] Bind(IReadOnlyList<ModelColumn> features)
    {
        if (_binding is { } bound && ReferenceEquals(bound.Features, features))
        {
            return bound.Positions;
        }

        var positions = new int[_columns.Length];
        for (var i = 0; i < _columns.Length; i++)
        {
            positions[i] = -1;
            for (var j = 0; j < features.Count; j++)
            {
                if (string.Equals(features[j].Name, _reference.Features[i].Name, StringComparison.Ordinal))
                {
                    positions[i] = j;
                }
            }
        }

        _binding = new Binding(features, positions);
        return positions;
    }

    private sealed record Binding(IReadOnlyList<ModelColumn> Features, int[] Positions);

    private sealed class Window(DateTimeOffset start, int stripes, int width)
    {
        public DateTimeOffset Start { get; } = start;

        public long[][] Stripes { get; } = [.. Enumerable.Range(0, stripes).Select(_ => new long[width])];
    }

    /// <summary>
    /// A column's slots: its bins or categories, then other, nulls and out-of-range. Numeric bins come from the
    /// reference's edges, categories from a read-only dictionary: no allocation per value.
    /// </summary>
    private sealed class Column
    {
        private Dictionary<string, int>? _categories;
        private int _start;
        private int _buckets;
        private double _min;
        private double _max;

        public string Name { get; private init; } = "";

        public bool IsNumeric { get; private init; }

        private double[] _edges = [];

        private int Other => _start + _buckets;

        private int Nulls => Other + 1;

        private int OutOfRange => Other + 2;

        public static Column Of(ColumnProfile profile, ref int offset)
        {
            var column = profile.Numeric is { } numeric
                ? new Column
                {
                    Name = profile.Name,
                    IsNumeric = true,
                    _edges = [.. numeric.Edges],
                    _buckets = numeric.Counts.Count,
                    _min = numeric.Min,
                    _max = numeric.Max,
                }
                : new Column
                {
                    Name = profile.Name,
                    _categories = profile.Categorical!.Categories.Select((c, i) => (c, i))
                        .ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal),
                    _buckets = profile.Categorical.Categories.Count,
                };
            column._start = offset;
            offset = column._start + column._buckets + 3;
            return column;
        }

        public void CountNumber(long[] counts, float value)
        {
            if (float.IsNaN(value))
            {
                Interlocked.Increment(ref counts[Nulls]);
                return;
            }

            Interlocked.Increment(ref counts[_start + NumericProfile.BinOf(new ReadOnlySpan<double>(_edges), value)]);
            if (value < _min || value > _max)
            {
                Interlocked.Increment(ref counts[OutOfRange]);
            }
        }

        public void CountText(long[] counts, string value)
        {
            if (value.Length == 0)
            {
                Interlocked.Increment(ref counts[Nulls]);
            }
            else if (_categories!.TryGetValue(value, out var index))
            {
                Interlocked.Increment(ref counts[_start + index]);
            }
            else
            {
                Interlocked.Increment(ref counts[Other]);
            }
        }

        public LiveCounts Read(long[] total) => new(
            Name,
            total.AsSpan(_start, _buckets).ToArray(),
            total[Other],
            total[Nulls],
            total[OutOfRange]);
    }
}
