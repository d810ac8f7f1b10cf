using Temporalio.Api.Enums.V1;

namespace Formanova.DevServer.Engine;

/// <summary>
/// Activity deadlines that fall due together fire in Temporal's order: by time, then by timeout type
/// (start-to-close, schedule-to-start, schedule-to-close, heartbeat; service/history timer sequence). The
/// scheduler fires them in the order they were armed, so schedule-to-close, armed first, used to win a tie
/// with an equal schedule-to-start.
/// </summary>
internal static class TimeoutPrecedence
{
    private static readonly TimeoutType[] Order = [TimeoutType.StartToClose, TimeoutType.ScheduleToStart, TimeoutType.ScheduleToClose];

    /// <summary>The timeout to report when <paramref name="fired"/> fires: an earlier-ranked one due as well wins.</summary>
    public static TimeoutType First(ActivityState activity, TimeoutType fired, DateTime now)
    {
        var a = activity.Attributes;
        foreach (var candidate in Order)
        {
            if (candidate >= fired)
            {
                break;
            }

            DateTime? due = candidate switch
            {
                TimeoutType.StartToClose when activity.Started => activity.StartedTime + Durations.Positive(a.StartToCloseTimeout),
                TimeoutType.ScheduleToStart when !activity.Started && !activity.Paused =>
                    activity.CurrentAttemptScheduledTime + Durations.Positive(a.ScheduleToStartTimeout),
                TimeoutType.ScheduleToClose => activity.ScheduledTime + Durations.Positive(a.ScheduleToCloseTimeout),
                _ => null,
            };
            if (due <= now)
            {
                return candidate;
            }
        }

        return fired;
    }
}
