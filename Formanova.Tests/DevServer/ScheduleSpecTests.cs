using Formanova.DevServer.Schedules;
using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Schedule.V1;

namespace Formanova.Tests.DevServer;

/// <summary>Action times computed from schedule specs: intervals, calendars, cron strings, time zones and jitter.</summary>
[TestFixture]
public class ScheduleSpecTests
{
    private static readonly DateTime Start = new(2030, 1, 7, 10, 0, 0, DateTimeKind.Utc);

    [Test]
    public void Next_WithAnIntervalAndPhase_CountsFromTheEpochPlusThePhase()
    {
        var spec = new ScheduleSpec();
        spec.Interval.Add(new IntervalSpec
        {
            Interval = Duration.FromTimeSpan(TimeSpan.FromMinutes(15)),
            Phase = Duration.FromTimeSpan(TimeSpan.FromMinutes(5)),
        });

        var times = new CompiledSpec(spec, "s").Between(Start, Start.AddHours(1)).Select(t => t.Nominal);

        Assert.That(times, Is.EqualTo(new[] { Start.AddMinutes(5), Start.AddMinutes(20), Start.AddMinutes(35), Start.AddMinutes(50) }));
    }

    [Test]
    public void Next_WithACronStringInNewYork_FollowsTheWallClockAcrossDaylightSavingTime()
    {
        var spec = new ScheduleSpec { TimezoneName = "America/New_York" };
        spec.CronString.Add("30 2 * * *");
        var from = new DateTime(2030, 3, 8, 12, 0, 0, DateTimeKind.Utc);

        var times = new CompiledSpec(spec, "s").Between(from, from.AddDays(3)).Select(t => t.Nominal);

        // 02:30 EST is 07:30Z; on 10 March 2030 02:30 does not exist and moves to 03:30 EDT (07:30Z); then 06:30Z.
        Assert.That(times, Is.EqualTo(new[]
        {
            new DateTime(2030, 3, 9, 7, 30, 0, DateTimeKind.Utc),
            new DateTime(2030, 3, 10, 7, 30, 0, DateTimeKind.Utc),
            new DateTime(2030, 3, 11, 6, 30, 0, DateTimeKind.Utc),
        }));
    }

    [Test]
    public void Next_WhenTheClockFallsBack_FiresTheRepeatedHourOnce()
    {
        var spec = new ScheduleSpec { TimezoneName = "America/New_York" };
        spec.CronString.Add("30 1 * * *");
        var from = new DateTime(2030, 11, 2, 12, 0, 0, DateTimeKind.Utc);

        var times = new CompiledSpec(spec, "s").Between(from, from.AddDays(2)).Select(t => t.Nominal);

        // 3 November 2030: 01:30 happens twice; only the first (EDT, 05:30Z) fires, then 01:30 EST (06:30Z) next day.
        Assert.That(times, Is.EqualTo(new[]
        {
            new DateTime(2030, 11, 3, 5, 30, 0, DateTimeKind.Utc),
            new DateTime(2030, 11, 4, 6, 30, 0, DateTimeKind.Utc),
        }));
    }

    [Test]
    public void Next_WithCalendarStringsAndAnExclusion_MatchesWeekdaysOnlyAndSkipsTheExcludedDay()
    {
        var spec = new ScheduleSpec();
        spec.Calendar.Add(new CalendarSpec { Hour = "9", DayOfWeek = "mon-fri" });
        spec.ExcludeStructuredCalendar.Add(new StructuredCalendarSpec
        {
            Hour = { new Temporalio.Api.Schedule.V1.Range { Start = 9 } },
            DayOfMonth = { new Temporalio.Api.Schedule.V1.Range { Start = 9 } },
        });

        // 7 January 2030 is a Monday.
        var times = new CompiledSpec(spec, "s").Between(Start, Start.AddDays(7)).Select(t => t.Nominal.Day);

        Assert.That(times, Is.EqualTo(new[] { 8, 10, 11, 14 }));
    }

    [Test]
    public void Canonical_WithCronStringsAndCalendarStrings_IsStructuredCalendarsAndIntervals()
    {
        var spec = new ScheduleSpec();
        spec.CronString.Add("CRON_TZ=Europe/Paris 0 12 * * 1-5 # noon on weekdays");
        spec.CronString.Add("@every 90m/15m");

        var canonical = new CompiledSpec(spec, "s").Canonical;

        Assert.That(canonical.CronString, Is.Empty);
        Assert.That(canonical.TimezoneName, Is.EqualTo("Europe/Paris"));
        var calendar = canonical.StructuredCalendar.Single();
        var weekdays = calendar.DayOfWeek.Single();
        Assert.That((calendar.Hour.Single().Start, weekdays.Start, weekdays.End), Is.EqualTo((12, 1, 5)));
        Assert.That(calendar.Comment, Is.EqualTo("noon on weekdays"));
        var interval = canonical.Interval.Single();
        Assert.That(interval.Interval.ToTimeSpan(), Is.EqualTo(TimeSpan.FromMinutes(90)));
        Assert.That(interval.Phase.ToTimeSpan(), Is.EqualTo(TimeSpan.FromMinutes(15)));
    }

    [Test]
    public void Next_WithJitter_StaysWithinTheJitterAndIsTheSameEveryTime()
    {
        var spec = new ScheduleSpec { Jitter = Duration.FromTimeSpan(TimeSpan.FromSeconds(30)) };
        spec.Interval.Add(new IntervalSpec { Interval = Duration.FromTimeSpan(TimeSpan.FromMinutes(1)) });

        var times = new CompiledSpec(spec, "ns/a").Between(Start, Start.AddHours(1)).ToList();
        var again = new CompiledSpec(spec, "ns/a").Between(Start, Start.AddHours(1)).ToList();
        var other = new CompiledSpec(spec, "ns/b").Between(Start, Start.AddHours(1)).ToList();

        Assert.That(times, Has.Count.EqualTo(60));
        var offsets = times.Select(t => (t.Actual - t.Nominal).TotalSeconds).ToList();
        Assert.That(offsets, Has.All.InRange(0.0, 29.999));
        Assert.That(offsets.Distinct().Count(), Is.GreaterThan(30), "spread, not a constant offset");
        Assert.That(again, Is.EqualTo(times));
        Assert.That(other, Is.Not.EqualTo(times), "each schedule has its own jitter");
    }

    [Test]
    public void Next_WithStartAndEndTimes_OnlyYieldsTimesBetweenThem()
    {
        var spec = new ScheduleSpec
        {
            StartTime = Timestamp.FromDateTime(Start.AddMinutes(30)),
            EndTime = Timestamp.FromDateTime(Start.AddMinutes(45)),
        };
        spec.Interval.Add(new IntervalSpec { Interval = Duration.FromTimeSpan(TimeSpan.FromMinutes(10)) });

        var times = new CompiledSpec(spec, "s").Between(Start, Start.AddHours(2)).Select(t => t.Nominal);

        Assert.That(times, Is.EqualTo(new[] { Start.AddMinutes(30), Start.AddMinutes(40) }));
    }

    [Test]
    public void Constructor_WithAnUnknownTimeZoneOrABadCron_IsInvalidArgument()
    {
        var zone = new ScheduleSpec { TimezoneName = "Mars/Olympus" };
        var cron = new ScheduleSpec();
        cron.CronString.Add("61 * * * *");

        Assert.That(() => new CompiledSpec(zone, "s"), Throws.TypeOf<Grpc.Core.RpcException>());
        Assert.That(() => new CompiledSpec(cron, "s"), Throws.TypeOf<Grpc.Core.RpcException>());
    }
}
