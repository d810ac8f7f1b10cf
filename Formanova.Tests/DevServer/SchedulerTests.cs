using System.Runtime.CompilerServices;
using Formanova.DevServer.Engine;

namespace Formanova.Tests.DevServer;

[TestFixture]
public class SchedulerTests
{
    [Test]
    public async Task At_WhenTargetIsNoLongerReferenced_SkipsTheActionAndReleasesTheTarget()
    {
        using var scheduler = new Scheduler(_ => { });
        // Far enough ahead that the collection below happens before anything is due.
        var due = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        var kept = new object();
        var keptFired = false;
        var droppedFired = false;
        var released = ScheduleOnDroppedTarget(scheduler, due, () => droppedFired = true);
        scheduler.At(due, kept, _ => keptFired = true);
        var later = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        scheduler.At(due + TimeSpan.FromMilliseconds(50), later.SetResult);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.That(released.TryGetTarget(out _), Is.False, "the pending deadline kept its target alive");
        await later.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(keptFired, Is.True);
        Assert.That(droppedFired, Is.False);
        GC.KeepAlive(kept);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference<object> ScheduleOnDroppedTarget(Scheduler scheduler, DateTime due, Action onFire)
    {
        var target = new object();
        scheduler.At(due, target, _ => onFire());
        return new WeakReference<object>(target);
    }
}
