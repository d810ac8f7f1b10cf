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
}
