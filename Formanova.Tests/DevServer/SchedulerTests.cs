using System.Runtime.CompilerServices;
using Formanova.DevServer.Engine;
using Microsoft.Extensions.Time.Testing;

namespace Formanova.Tests.DevServer;

[TestFixture]
public class SchedulerTests
{
    [Test]
    public void At_WhenTargetIsNoLongerReferenced_SkipsTheActionAndReleasesTheTarget()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var scheduler = new Scheduler(clock, _ => { });
        var due = clock.GetUtcNow().UtcDateTime + TimeSpan.FromSeconds(2);
        var kept = new object();
        var keptFired = false;
        var droppedFired = false;
        var released = ScheduleOnDroppedTarget(scheduler, due, () => droppedFired = true);
        scheduler.At(due, kept, _ => keptFired = true);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.That(released.TryGetTarget(out _), Is.False, "the pending deadline kept its target alive");
        clock.Advance(TimeSpan.FromSeconds(2));

        Assert.That(keptFired, Is.True);
        Assert.That(droppedFired, Is.False);
        GC.KeepAlive(kept);
    }

    [Test]
    public void At_WhenClockReachesTheDeadline_RunsActionsInDueOrderAndNotBefore()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var scheduler = new Scheduler(clock, _ => { });
        var start = clock.GetUtcNow().UtcDateTime;
        var fired = new List<string>();
        scheduler.At(start + TimeSpan.FromMinutes(2), () => fired.Add("second"));
        scheduler.After(TimeSpan.FromMinutes(1), () => fired.Add("first"));

        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.That(fired, Is.Empty);

        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.That(fired, Is.EqualTo(new[] { "first", "second" }));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference<object> ScheduleOnDroppedTarget(Scheduler scheduler, DateTime due, Action onFire)
    {
        var target = new object();
        scheduler.At(due, target, _ => onFire());
        return new WeakReference<object>(target);
    }
}
