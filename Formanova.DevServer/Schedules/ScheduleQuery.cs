using System.Text.RegularExpressions;
using Formanova.DevServer.Engine;

namespace Formanova.DevServer.Schedules;

/// <summary>
/// The schedule list query: empty, or <c>ScheduleId = '…'</c> and <c>TemporalSchedulePaused = true|false</c> joined by
/// AND. Anything else is InvalidArgument.
/// </summary>
internal static partial class ScheduleQuery
{
    public static IEnumerable<ScheduleEntry> Filter(IEnumerable<ScheduleEntry> entries, string query)
    {
        if (string.IsNullOrWhiteSpace(query))
        {
            return entries;
        }

        var filters = new List<Func<ScheduleEntry, bool>>();
        foreach (var clause in AndSplit().Split(query.Trim()))
        {
            var match = Clause().Match(clause.Trim());
            if (!match.Success)
            {
                throw Errors.InvalidArgument($"Unsupported schedule query \"{query}\".");
            }

            var (field, value) = (match.Groups["field"].Value, match.Groups["value"].Value.Trim('\'', '"'));
            filters.Add(field switch
            {
                "ScheduleId" => e => e.Id == value,
                "TemporalSchedulePaused" when bool.TryParse(value, out var paused) => e => IsPaused(e) == paused,
                _ => throw Errors.InvalidArgument($"Unsupported schedule query \"{query}\"."),
            });
        }

        return entries.Where(e => filters.All(f => f(e)));
    }

    private static bool IsPaused(ScheduleEntry entry)
    {
        lock (entry.Gate)
        {
            return entry.Schedule.State.Paused;
        }
    }

    [GeneratedRegex(@"\s+AND\s+", RegexOptions.IgnoreCase)]
    private static partial Regex AndSplit();

    [GeneratedRegex(@"^(?<field>\w+)\s*=\s*(?<value>'[^']*'|""[^""]*""|\w+)$")]
    private static partial Regex Clause();
}
