using System.Globalization;
using Formanova.DevServer.Engine;
using Temporalio.Api.Schedule.V1;

namespace Formanova.DevServer.Schedules;

/// <summary>
/// A structured calendar as sets of allowed field values. Every field must match (day of month and day of week
/// included). Empty lists default as in Temporal: second, minute and hour to 0, the other fields to any value.
/// </summary>
internal sealed class CalendarMatcher
{
    private readonly bool[] _seconds = new bool[60];
    private readonly bool[] _minutes = new bool[60];
    private readonly bool[] _hours = new bool[24];
    private readonly bool[] _days = new bool[32];
    private readonly bool[] _months = new bool[13];
    private readonly bool[] _weekdays = new bool[7];
    private readonly List<Temporalio.Api.Schedule.V1.Range> _years;

    public CalendarMatcher(StructuredCalendarSpec spec)
    {
        Fill(_seconds, spec.Second, 0, 59, zeroByDefault: true, "second");
        Fill(_minutes, spec.Minute, 0, 59, zeroByDefault: true, "minute");
        Fill(_hours, spec.Hour, 0, 23, zeroByDefault: true, "hour");
        Fill(_days, spec.DayOfMonth, 1, 31, zeroByDefault: false, "day of month");
        Fill(_months, spec.Month, 1, 12, zeroByDefault: false, "month");
        var weekdays = new bool[8];
        Fill(weekdays, spec.DayOfWeek, 0, 7, zeroByDefault: false, "day of week");
        for (var i = 0; i < 7; i++)
        {
            _weekdays[i] = weekdays[i];
        }

        // 7 is Sunday too, as in cron.
        _weekdays[0] |= weekdays[7];
        _years = [.. spec.Year];
    }

    public bool Matches(DateTime local) =>
        _seconds[local.Second] && _minutes[local.Minute] && _hours[local.Hour] && MatchesDay(local);

    /// <summary>The first matching wall-clock time in <paramref name="zone"/> after the instant <paramref name="after"/>, in UTC.</summary>
    public DateTime? Next(DateTime after, TimeZoneInfo zone, int searchDays)
    {
        var afterLocal = TimeZoneInfo.ConvertTimeFromUtc(after, zone);
        // Wall-clock times before this cannot map past "after", whatever a DST shift does.
        var horizon = afterLocal.AddHours(-3);
        var day = afterLocal.Date;
        for (var d = 0; d < searchDays; d++, day = day.AddDays(1))
        {
            if (!MatchesDay(day))
            {
                continue;
            }

            for (var h = 0; h < 24; h++)
            {
                if (!_hours[h] || day.AddHours(h + 1) < horizon)
                {
                    continue;
                }

                for (var m = 0; m < 60; m++)
                {
                    if (!_minutes[m])
                    {
                        continue;
                    }

                    for (var s = 0; s < 60; s++)
                    {
                        if (!_seconds[s])
                        {
                            continue;
                        }

                        var local = day.AddHours(h).AddMinutes(m).AddSeconds(s);
                        if (local < horizon)
                        {
                            continue;
                        }

                        var utc = ToUtc(local, zone);
                        if (utc > after)
                        {
                            return utc;
                        }
                    }
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Wall-clock time to an instant, as Go's time.Date does for Temporal: a time skipped by a DST change moves
    /// forward by the gap (02:30 becomes 03:30), and a repeated time is its first occurrence.
    /// </summary>
    public static DateTime ToUtc(DateTime local, TimeZoneInfo zone)
    {
        local = DateTime.SpecifyKind(local, DateTimeKind.Unspecified);
        if (zone == TimeZoneInfo.Utc)
        {
            return DateTime.SpecifyKind(local, DateTimeKind.Utc);
        }

        TimeSpan offset;
        if (zone.IsInvalidTime(local))
        {
            offset = zone.GetUtcOffset(local.AddDays(-1));
        }
        else if (zone.IsAmbiguousTime(local))
        {
            offset = zone.GetAmbiguousTimeOffsets(local).Max();
        }
        else
        {
            offset = zone.GetUtcOffset(local);
        }

        return DateTime.SpecifyKind(local - offset, DateTimeKind.Utc);
    }

    private bool MatchesDay(DateTime local) =>
        _days[local.Day] && _months[local.Month] && _weekdays[(int)local.DayOfWeek] && MatchesYear(local.Year);

    private bool MatchesYear(int year)
    {
        if (_years.Count == 0)
        {
            return true;
        }

        foreach (var range in _years)
        {
            var (start, end, step) = Bounds(range);
            if (year >= start && year <= end && (year - start) % step == 0)
            {
                return true;
            }
        }

        return false;
    }

    private static void Fill(
        bool[] allowed,
        IEnumerable<Temporalio.Api.Schedule.V1.Range> ranges,
        int min,
        int max,
        bool zeroByDefault,
        string field)
    {
        var any = false;
        foreach (var range in ranges)
        {
            any = true;
            var (start, end, step) = Bounds(range);
            if (start < min || end > max)
            {
                throw Errors.InvalidArgument(
                    string.Create(CultureInfo.InvariantCulture, $"The {field} range {start}-{end} is out of bounds."));
            }

            for (var v = start; v <= end; v += step)
            {
                allowed[v] = true;
            }
        }

        if (!any)
        {
            for (var v = min; v <= max; v++)
            {
                allowed[v] = !zeroByDefault || v == 0;
            }
        }
    }

    private static (int Start, int End, int Step) Bounds(Temporalio.Api.Schedule.V1.Range range)
    {
        var end = range.End < range.Start ? range.Start : range.End;
        var step = range.Step <= 0 ? 1 : range.Step;
        return (range.Start, end, step);
    }
}
