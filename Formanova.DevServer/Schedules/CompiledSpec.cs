using System.Globalization;
using Formanova.DevServer.Engine;
using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Schedule.V1;

namespace Formanova.DevServer.Schedules;

/// <summary>One action time of a schedule: the nominal time from the spec and the actual time after jitter.</summary>
internal readonly record struct ScheduleTime(DateTime Nominal, DateTime Actual);

/// <summary>
/// A schedule spec turned into something that answers "the next time after t". Calendar strings and cron strings are
/// parsed into structured calendars (<see cref="Canonical"/> is what DescribeSchedule shows, as Temporal does);
/// calendars match in the spec's time zone, intervals count from the Unix epoch plus the phase, in UTC.
/// </summary>
internal sealed class CompiledSpec
{
    // A calendar that matches nothing within this many days (February 30th) has no next time.
    private const int SearchDays = 366 * 8;

    private readonly List<CalendarMatcher> _calendars = [];
    private readonly List<CalendarMatcher> _excluded = [];
    private readonly List<(long Interval, long Phase)> _intervals = [];
    private readonly DateTime? _start;
    private readonly DateTime? _end;
    private readonly TimeSpan _jitter;
    private readonly TimeZoneInfo _zone;
    private readonly ulong _seed;

    public CompiledSpec(ScheduleSpec spec, string seed)
    {
        Canonical = new ScheduleSpec
        {
            StartTime = spec.StartTime,
            EndTime = spec.EndTime,
            Jitter = spec.Jitter,
            TimezoneName = spec.TimezoneName,
        };
        var zoneName = spec.TimezoneName;
        foreach (var cron in spec.CronString)
        {
            var (calendar, interval, cronZone) = CronParser.Parse(cron);
            if (calendar is not null)
            {
                Canonical.StructuredCalendar.Add(calendar);
            }

            if (interval is not null)
            {
                Canonical.Interval.Add(interval);
            }

            if (cronZone is not null)
            {
                if (!string.IsNullOrEmpty(zoneName) && zoneName != cronZone)
                {
                    throw Errors.InvalidArgument("A cron string's time zone differs from the spec's time zone.");
                }

                zoneName = cronZone;
                Canonical.TimezoneName = cronZone;
            }
        }

        Canonical.StructuredCalendar.Add(spec.StructuredCalendar);
        Canonical.StructuredCalendar.Add(spec.Calendar.Select(CalendarParser.ToStructured));
        Canonical.Interval.Add(spec.Interval);
        Canonical.ExcludeStructuredCalendar.Add(spec.ExcludeStructuredCalendar);
        Canonical.ExcludeStructuredCalendar.Add(spec.ExcludeCalendar.Select(CalendarParser.ToStructured));

        _zone = FindZone(zoneName);
        _calendars.AddRange(Canonical.StructuredCalendar.Select(c => new CalendarMatcher(c)));
        _excluded.AddRange(Canonical.ExcludeStructuredCalendar.Select(c => new CalendarMatcher(c)));
        foreach (var interval in Canonical.Interval)
        {
            var every = interval.Interval?.ToTimeSpan() ?? TimeSpan.Zero;
            var phase = interval.Phase?.ToTimeSpan() ?? TimeSpan.Zero;
            if (every <= TimeSpan.Zero || phase < TimeSpan.Zero)
            {
                throw Errors.InvalidArgument("An interval must be positive and its phase must not be negative.");
            }

            _intervals.Add((every.Ticks, phase.Ticks % every.Ticks));
        }

        _start = spec.StartTime?.ToDateTime();
        _end = spec.EndTime?.ToDateTime();
        _jitter = spec.Jitter?.ToTimeSpan() ?? TimeSpan.Zero;
        if (_jitter < TimeSpan.Zero)
        {
            throw Errors.InvalidArgument("Jitter must not be negative.");
        }

        _seed = Fnv(seed, 14695981039346656037UL);
    }

    /// <summary>The spec with calendar strings and cron strings expanded to structured calendars and intervals.</summary>
    public ScheduleSpec Canonical { get; }

    /// <summary>The first action time whose nominal time is after <paramref name="after"/>, or null when there is none.</summary>
    public ScheduleTime? Next(DateTime after)
    {
        if (NextNominal(after) is not { } nominal)
        {
            return null;
        }

        return new ScheduleTime(nominal, nominal + Jitter(nominal));
    }

    /// <summary>All action times with a nominal time in (<paramref name="after"/>, <paramref name="until"/>].</summary>
    public IEnumerable<ScheduleTime> Between(DateTime after, DateTime until)
    {
        var cursor = after;
        while (Next(cursor) is { } next && next.Nominal <= until)
        {
            yield return next;
            cursor = next.Nominal;
        }
    }

    private DateTime? NextNominal(DateTime after)
    {
        if (_start is { } start && after < start)
        {
            after = start.AddTicks(-1);
        }

        // Excluded times are skipped, so the search goes on from each excluded match.
        for (var guard = 0; guard < 100_000; guard++)
        {
            DateTime? best = null;
            foreach (var (interval, phase) in _intervals)
            {
                var k = (after.Ticks - DateTime.UnixEpoch.Ticks - phase) / interval;
                var candidate = new DateTime(DateTime.UnixEpoch.Ticks + phase + (k * interval), DateTimeKind.Utc);
                while (candidate <= after)
                {
                    candidate = candidate.AddTicks(interval);
                }

                best = best is null || candidate < best ? candidate : best;
            }

            foreach (var calendar in _calendars)
            {
                if (calendar.Next(after, _zone, SearchDays) is { } candidate && (best is null || candidate < best))
                {
                    best = candidate;
                }
            }

            if (best is not { } found || (_end is { } end && found > end))
            {
                return null;
            }

            var local = TimeZoneInfo.ConvertTimeFromUtc(found, _zone);
            if (!_excluded.Any(e => e.Matches(local)))
            {
                return found;
            }

            after = found;
        }

        return null;
    }

    /// <summary>
    /// Like Temporal, jitter is a deterministic function of the schedule and the nominal time (so a restart picks the
    /// same actual time), and it never reaches the following nominal time, so jitter cannot reorder actions.
    /// </summary>
    private TimeSpan Jitter(DateTime nominal)
    {
        if (_jitter <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        var limit = _jitter;
        if (NextNominal(nominal) is { } following && following - nominal < limit)
        {
            limit = following - nominal;
        }

        if (limit <= TimeSpan.FromMilliseconds(1))
        {
            return TimeSpan.Zero;
        }

        var hash = Fnv(nominal.Ticks.ToString(CultureInfo.InvariantCulture), _seed);
        return TimeSpan.FromMilliseconds((double)(hash % (ulong)limit.TotalMilliseconds));
    }

    private static ulong Fnv(string text, ulong hash)
    {
        foreach (var c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }

    private static TimeZoneInfo FindZone(string name)
    {
        if (string.IsNullOrEmpty(name) || name == "UTC")
        {
            return TimeZoneInfo.Utc;
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(name);
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw Errors.InvalidArgument($"Unknown time zone \"{name}\".");
        }
    }

    public static Timestamp Stamp(DateTime utc) => Timestamp.FromDateTime(DateTime.SpecifyKind(utc, DateTimeKind.Utc));
}
