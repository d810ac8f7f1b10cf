using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Failure.V1;
using Temporalio.Api.Workflow.V1;

namespace Formanova.DevServer.Engine;

/// <summary>
/// Pause and reset (PauseActivity, UnpauseActivity, ResetActivity). Like Temporal, a pause writes no history
/// event: it lives in the activity's mutable state, which here is the <c>activity_pauses</c> side table.
/// </summary>
internal sealed partial class ActivityState
{
    /// <summary>Set while paused: no attempt is dispatched or retried, and a running one hears of it in its heartbeat.</summary>
    public PendingActivityInfo.Types.PauseInfo? PauseInfo { get; private set; }

    public bool Paused => PauseInfo is not null;

    /// <summary>A reset arrived while an attempt ran: that attempt hears of it, and the next one is attempt 1, at once.</summary>
    public bool ResetRequested { get; private set; }

    public void Pause(PendingActivityInfo.Types.PauseInfo info) => PauseInfo = info;

    public void Unpause() => PauseInfo = null;

    public bool ResetHeartbeatRequested { get; private set; }

    public void RequestReset(bool resetHeartbeat)
    {
        ResetRequested = true;
        ResetHeartbeatRequested |= resetHeartbeat;
    }

    /// <summary>Back to attempt 1, not started, with its dispatch sequence moved on so queued copies go stale.</summary>
    public int RestartAttempts(DateTime now, bool resetHeartbeat, Failure? lastFailure)
    {
        Attempt = 1;
        Started = false;
        ResetRequested = false;
        ResetHeartbeatRequested = false;
        CurrentAttemptScheduledTime = now;
        if (lastFailure is not null)
        {
            LastFailure = lastFailure;
        }

        if (resetHeartbeat)
        {
            HeartbeatDetails = null;
        }

        return ++DispatchSeq;
    }

    /// <summary>An unpause with reset_heartbeat: the next attempt starts without the last heartbeat's details.</summary>
    public void ClearHeartbeat() => HeartbeatDetails = null;

    public static PendingActivityInfo.Types.PauseInfo ManualPause(DateTime now, string identity, string reason) => new()
    {
        PauseTime = Timestamp.FromDateTime(now),
        Manual = new PendingActivityInfo.Types.PauseInfo.Types.Manual { Identity = identity, Reason = reason },
    };
}
