namespace Formanova.Host.Dashboard.Workflows;

/// <summary>
/// A run's steps as its Temporal history tells them, oldest first. <see cref="Truncated"/> when the history was longer
/// than the dashboard reads (Dashboard:MaxHistoryEvents); the steps are then those of its beginning.
/// </summary>
public sealed record TimelineModel(DateTime Start, DateTime End, IReadOnlyList<TimelineStep> Steps, int Events, bool Truncated)
{
    /// <summary>Where <paramref name="at"/> falls in the run, from 0 to 1000, for the timeline's bars.</summary>
    public double Position(DateTime at)
    {
        var span = (End - Start).TotalMilliseconds;
        return span <= 0 ? 0 : Math.Clamp((at - Start).TotalMilliseconds / span * 1000, 0, 1000);
    }
}

/// <summary>
/// One step: an activity (its last attempt's start, its end, the attempts it took and its failures), a local activity, a
/// timer, a signal, an update, a child workflow, or the run's own start and close.
/// </summary>
/// <param name="Kind">activity, local activity, timer, signal, update, child workflow, workflow task or run.</param>
/// <param name="Name">The activity or workflow type, the signal or update name, the timer's id and duration.</param>
/// <param name="At">When it was scheduled (an activity's first attempt), started or happened.</param>
/// <param name="EndedAt">When it completed, failed, fired or was cancelled; null while it runs or for a point in time.</param>
/// <param name="Point">Something that happened at one time (a signal, a local activity, the run's close), not a span.</param>
/// <param name="Attempts">For activities: the attempt that ran last (1 when it did not retry).</param>
/// <param name="Outcome">completed, failed, timed out, cancelled, running, retrying, scheduled, fired, received, ...</param>
/// <param name="Failures">What failed, newest last: a retried activity's last failed attempt, then its own failure.</param>
public sealed record TimelineStep(
    string Kind,
    string Name,
    DateTime At,
    DateTime? EndedAt,
    bool Point,
    int? Attempts,
    string Outcome,
    IReadOnlyList<string> Failures)
{
    public bool Failed => Outcome is "failed" or "timed out" or "terminated";

    /// <summary>A span still open: it runs until now.</summary>
    public bool Ongoing => !Point && EndedAt is null;
}
