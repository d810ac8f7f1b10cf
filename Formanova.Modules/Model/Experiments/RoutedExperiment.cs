namespace Formanova.Modules.Model.Experiments;

/// <summary>An arm as routing sees it: its pinned version and its share of [0, 1) (an upper bound, cumulative).</summary>
internal sealed record RoutedArm(string Name, string Version, double Weight, double Below, bool Control);

/// <summary>
/// A running experiment as the hot path reads it (docs/experiments.md, "Routing"): immutable, built once per change or
/// refresh, so choosing an arm is a hash or a random draw and a scan of at most 8 arms.
/// </summary>
internal sealed class RoutedExperiment
{
    private RoutedExperiment(string name, string model, ExperimentMode mode, ExperimentAssignment assignment, RoutedArm[] arms)
    {
        Name = name;
        Model = model;
        Mode = mode;
        Assignment = assignment;
        Arms = arms;
        Control = arms[0];
    }

    public string Name { get; }

    public string Model { get; }

    public ExperimentMode Mode { get; }

    public ExperimentAssignment Assignment { get; }

    public IReadOnlyList<RoutedArm> Arms { get; }

    public RoutedArm Control { get; }

    public static RoutedExperiment From(ExperimentInfo info)
    {
        var total = info.Arms.Sum(a => a.Weight);
        var arms = new RoutedArm[info.Arms.Count];
        var below = 0.0;
        for (var i = 0; i < arms.Length; i++)
        {
            var arm = info.Arms[i];
            below += total > 0 ? arm.Weight / total : 0;
            // The last arm's bound is exactly 1, so rounding never leaves a point of [0, 1) unassigned.
            arms[i] = new RoutedArm(arm.Name, arm.Version, arm.Weight, i == arms.Length - 1 ? 1 : below, arm.Control);
        }

        return new RoutedExperiment(info.Name, info.Model, info.Mode, info.Assignment, arms);
    }

    /// <summary>
    /// The arm that serves a request in split and canary mode: by the sticky hash of <paramref name="entityId"/> when
    /// the assignment is sticky and there is one, else by a random draw.
    /// </summary>
    public RoutedArm Route(string? entityId) => Pick(
        Assignment == ExperimentAssignment.Sticky && entityId is not null ? StickyPoint(Name, entityId) : Random.Shared.NextDouble());

    /// <summary>The arm whose share of [0, 1) holds <paramref name="point"/>.</summary>
    public RoutedArm Pick(double point)
    {
        foreach (var arm in Arms)
        {
            if (point < arm.Below)
            {
                return arm;
            }
        }

        return Arms[^1];
    }

    /// <summary>
    /// Maps (experiment, entity) to a point of [0, 1): FNV-1a over both, then SplitMix64's finaliser so that keys
    /// differing in the last character land far apart; the top 53 bits make the double. The same on every replica and
    /// every run (unlike <see cref="string.GetHashCode()"/>), and a new experiment reshuffles entities.
    /// </summary>
    public static double StickyPoint(string experiment, string entityId)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in experiment)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        hash = (hash ^ '\n') * 1099511628211UL;
        foreach (var c in entityId)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        hash ^= hash >> 30;
        hash *= 0xBF58476D1CE4E5B9UL;
        hash ^= hash >> 27;
        hash *= 0x94D049BB133111EBUL;
        hash ^= hash >> 31;
        return (hash >> 11) * (1.0 / (1UL << 53));
    }
}
