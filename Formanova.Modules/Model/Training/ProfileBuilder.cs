using System.Runtime.InteropServices;
using Microsoft.ML;

namespace Formanova.Modules.Model.Training;

/// <summary>
/// Builds a version's <see cref="ReferenceProfile"/> from its training rows in two streaming passes per column: a
/// seeded reservoir places the quantile edges, then every row is counted into them. Memory is bounded by
/// <see cref="ReferenceProfile.ReservoirSize"/> and <see cref="ReferenceProfile.MaxDistinctCounted"/> per column.
/// </summary>
internal static class ProfileBuilder
{
    public static ReferenceProfile Build(
        ModelTask task,
        IReadOnlyList<ModelColumn> features,
        IDataView train,
        IDataView predictions,
        LabelBalance balance,
        ClassificationReport? classification,
        int seed)
    {
        var profiles = new List<ColumnProfile>(features.Count);
        long rows = 0;
        foreach (var feature in features)
        {
            var profile = feature.Kind switch
            {
                ColumnKind.Numeric or ColumnKind.Boolean => Numeric(feature.Name, feature.Kind, Floats(train, feature.Name), seed),
                ColumnKind.Categorical => Categorical(feature.Name, Texts(train, feature.Name)),
                _ => null,
            };
            if (profile is not null)
            {
                profiles.Add(profile);
                rows = Math.Max(rows, profile.Count);
            }
        }

        ColumnProfile label, predicted;
        if (task == ModelTask.Regression)
        {
            label = Numeric("label", ColumnKind.Numeric, Floats(train, "Label"), seed);
            predicted = Numeric("prediction", ColumnKind.Numeric, Floats(predictions, "Score"), seed);
        }
        else
        {
            label = Classes("label", balance.Classes?.Select(c => (c.Class, c.Train)) ?? []);
            predicted = Classes("prediction", classification?.PerClass.Select(c => (c.Class, c.Predicted)) ?? []);
        }

        return new ReferenceProfile(rows, profiles, label, predicted);
    }

    /// <summary>A numeric profile of <paramref name="values"/> (NaN is missing), enumerated twice.</summary>
    public static ColumnProfile Numeric(string name, ColumnKind kind, IEnumerable<float> values, int seed)
    {
        var random = new Random(seed);
        var reservoir = new List<double>(ReferenceProfile.ReservoirSize);
        long seen = 0, nulls = 0;
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var value in values)
        {
            if (float.IsNaN(value))
            {
                nulls++;
                continue;
            }

            seen++;
            min = Math.Min(min, value);
            max = Math.Max(max, value);
            if (reservoir.Count < ReferenceProfile.ReservoirSize)
            {
                reservoir.Add(value);
            }
            else if (random.NextInt64(seen) is var slot && slot < ReferenceProfile.ReservoirSize)
            {
                reservoir[(int)slot] = value;
            }
        }

        reservoir.Sort();
        var edges = new List<double>(ReferenceProfile.MaxBins - 1);
        for (var i = 1; i < ReferenceProfile.MaxBins && reservoir.Count > 0; i++)
        {
            var edge = reservoir[(int)Math.Min(reservoir.Count - 1, (long)i * reservoir.Count / ReferenceProfile.MaxBins)];
            // Repeated values (a boolean, a few levels) collapse into fewer bins rather than empty ones.
            if (edge < max && (edges.Count == 0 || edge > edges[^1]))
            {
                edges.Add(edge);
            }
        }

        var counts = new long[edges.Count + 1];
        foreach (var value in values)
        {
            if (!float.IsNaN(value))
            {
                counts[NumericProfile.BinOf(CollectionsMarshal.AsSpan(edges), value)]++;
            }
        }

        return new ColumnProfile(
            name,
            kind,
            seen + nulls,
            new NumericProfile(edges, counts, seen == 0 ? 0 : min, seen == 0 ? 0 : max, nulls),
            null);
    }

    /// <summary>A categorical profile of <paramref name="values"/> (empty is missing).</summary>
    public static ColumnProfile Categorical(string name, IEnumerable<string> values)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        long total = 0, nulls = 0;
        foreach (var value in values)
        {
            total++;
            if (value.Length == 0)
            {
                nulls++;
            }
            else if (counts.TryGetValue(value, out var count))
            {
                counts[value] = count + 1;
            }
            else
            {
                if (counts.Count >= ReferenceProfile.MaxDistinctCounted)
                {
                    Prune(counts);
                }

                counts[value] = 1;
            }
        }

        // What was pruned is in neither the table nor the nulls: Top counts it as other.
        return Top(name, ColumnKind.Categorical, counts, total, nulls);
    }

    /// <summary>
    /// Lossy counting: when the table is full, the rarest values leave it (their counts go to other) until at most half
    /// of it is left, so a frequent value that arrives late still gets counted.
    /// </summary>
    private static void Prune(Dictionary<string, long> counts)
    {
        for (long floor = 1; counts.Count > ReferenceProfile.MaxDistinctCounted / 2; floor++)
        {
            foreach (var key in counts.Where(c => c.Value <= floor).Select(c => c.Key).ToList())
            {
                counts.Remove(key);
            }
        }
    }

    private static ColumnProfile Classes(string name, IEnumerable<(string Class, long Count)> classes)
    {
        var counts = classes.ToDictionary(c => c.Class, c => c.Count, StringComparer.Ordinal);
        return Top(name, ColumnKind.Categorical, counts, counts.Values.Sum(), 0);
    }

    private static ColumnProfile Top(string name, ColumnKind kind, Dictionary<string, long> counts, long total, long nulls)
    {
        var top = counts.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal)
            .Take(ReferenceProfile.MaxCategories).ToList();
        var other = total - nulls - top.Sum(c => c.Value);
        return new ColumnProfile(
            name,
            kind,
            total,
            null,
            new CategoricalProfile([.. top.Select(c => c.Key)], [.. top.Select(c => c.Value)], other, nulls));
    }

    private static IEnumerable<float> Floats(IDataView view, string column)
    {
        var col = view.Schema[column];
        using var cursor = view.GetRowCursor([col]);
        var getter = cursor.GetGetter<float>(col);
        float value = 0;
        while (cursor.MoveNext())
        {
            getter(ref value);
            yield return value;
        }
    }

    private static IEnumerable<string> Texts(IDataView view, string column)
    {
        var col = view.Schema[column];
        using var cursor = view.GetRowCursor([col]);
        var getter = cursor.GetGetter<ReadOnlyMemory<char>>(col);
        ReadOnlyMemory<char> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            yield return value.ToString();
        }
    }
}
