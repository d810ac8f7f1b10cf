using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.Failure.V1;
using Temporalio.Api.History.V1;
using Temporalio.Api.Workflow.V1;

namespace Formanova.Host.Dashboard.Workflows;

/// <summary>
/// Turns a run's history events into its steps. Temporal writes an activity's retries into one scheduled/started pair
/// (the started event carries the attempt that ran last and the failure of the one before), so the attempts and
/// failures of a step come from there, and for an activity still retrying from the run's pending activities.
/// </summary>
internal static class WorkflowTimeline
{
    private const int MaxFailureLength = 600;

    public static TimelineModel Build(
        IReadOnlyList<HistoryEvent> events,
        IEnumerable<PendingActivityInfo> pending,
        DateTime now,
        bool truncated)
    {
        var steps = new List<Step>();
        var byEvent = new Dictionary<long, Step>();
        var timers = new Dictionary<string, Step>(StringComparer.Ordinal);
        DateTime? closedAt = null;
        foreach (var e in events)
        {
            var at = Time(e.EventTime) ?? now;
            switch (e.EventType)
            {
                case EventType.WorkflowExecutionStarted:
                    steps.Add(Point("run", "started", at, "started"));
                    break;
                case EventType.ActivityTaskScheduled:
                    {
                        var a = e.ActivityTaskScheduledEventAttributes;
                        var step = new Step("activity", a.ActivityType.Name, at, "scheduled") { ActivityId = a.ActivityId };
                        byEvent[e.EventId] = step;
                        steps.Add(step);
                        break;
                    }

                case EventType.ActivityTaskStarted:
                    {
                        var a = e.ActivityTaskStartedEventAttributes;
                        if (byEvent.TryGetValue(a.ScheduledEventId, out var step))
                        {
                            step.Attempts = a.Attempt;
                            step.Outcome = "running";
                            AddFailure(step, a.LastFailure, $"attempt {a.Attempt - 1}");
                        }

                        break;
                    }

                case EventType.ActivityTaskCompleted:
                    End(byEvent, e.ActivityTaskCompletedEventAttributes.ScheduledEventId, at, "completed", null);
                    break;
                case EventType.ActivityTaskFailed:
                    End(
                        byEvent,
                        e.ActivityTaskFailedEventAttributes.ScheduledEventId,
                        at,
                        "failed",
                        e.ActivityTaskFailedEventAttributes.Failure);
                    break;
                case EventType.ActivityTaskTimedOut:
                    End(
                        byEvent,
                        e.ActivityTaskTimedOutEventAttributes.ScheduledEventId,
                        at,
                        "timed out",
                        e.ActivityTaskTimedOutEventAttributes.Failure);
                    break;
                case EventType.ActivityTaskCanceled:
                    End(byEvent, e.ActivityTaskCanceledEventAttributes.ScheduledEventId, at, "cancelled", null);
                    break;
                case EventType.TimerStarted:
                    {
                        var t = e.TimerStartedEventAttributes;
                        var step = new Step("timer", $"{Seconds(t.StartToFireTimeout)} (timer {t.TimerId})", at, "waiting");
                        timers[t.TimerId] = step;
                        steps.Add(step);
                        break;
                    }

                case EventType.TimerFired:
                    EndTimer(timers, e.TimerFiredEventAttributes.TimerId, at, "fired");
                    break;
                case EventType.TimerCanceled:
                    EndTimer(timers, e.TimerCanceledEventAttributes.TimerId, at, "cancelled");
                    break;
                case EventType.WorkflowExecutionSignaled:
                    steps.Add(Point("signal", e.WorkflowExecutionSignaledEventAttributes.SignalName, at, "received"));
                    break;
                case EventType.WorkflowExecutionUpdateAccepted:
                    {
                        var name = e.WorkflowExecutionUpdateAcceptedEventAttributes.AcceptedRequest?.Input?.Name ?? "update";
                        var step = new Step("update", name, at, "accepted");
                        byEvent[e.EventId] = step;
                        steps.Add(step);
                        break;
                    }

                case EventType.WorkflowExecutionUpdateCompleted:
                    {
                        var u = e.WorkflowExecutionUpdateCompletedEventAttributes;
                        var failure = u.Outcome?.Failure;
                        End(byEvent, u.AcceptedEventId, at, failure is null ? "completed" : "failed", failure);
                        break;
                    }

                case EventType.MarkerRecorded:
                    steps.Add(LocalActivity(e.MarkerRecordedEventAttributes, at));
                    break;
                case EventType.StartChildWorkflowExecutionInitiated:
                    {
                        var type = e.StartChildWorkflowExecutionInitiatedEventAttributes.WorkflowType.Name;
                        var step = new Step("child workflow", type, at, "started");
                        byEvent[e.EventId] = step;
                        steps.Add(step);
                        break;
                    }

                case EventType.ChildWorkflowExecutionCompleted:
                    End(byEvent, e.ChildWorkflowExecutionCompletedEventAttributes.InitiatedEventId, at, "completed", null);
                    break;
                case EventType.ChildWorkflowExecutionFailed:
                    End(
                        byEvent,
                        e.ChildWorkflowExecutionFailedEventAttributes.InitiatedEventId,
                        at,
                        "failed",
                        e.ChildWorkflowExecutionFailedEventAttributes.Failure);
                    break;
                case EventType.WorkflowTaskFailed:
                    steps.Add(Point("workflow task", "failed", at, "failed")
                        .WithFailure(e.WorkflowTaskFailedEventAttributes.Failure, null));
                    break;
                case EventType.WorkflowExecutionCancelRequested:
                    steps.Add(Point("run", "cancel requested", at, "requested"));
                    break;
                case EventType.WorkflowExecutionCompleted:
                    closedAt = at;
                    steps.Add(Point("run", "completed", at, "completed"));
                    break;
                case EventType.WorkflowExecutionFailed:
                    closedAt = at;
                    steps.Add(Point("run", "failed", at, "failed")
                        .WithFailure(e.WorkflowExecutionFailedEventAttributes.Failure, null));
                    break;
                case EventType.WorkflowExecutionTimedOut:
                    closedAt = at;
                    steps.Add(Point("run", "timed out", at, "timed out"));
                    break;
                case EventType.WorkflowExecutionCanceled:
                    closedAt = at;
                    steps.Add(Point("run", "cancelled", at, "cancelled"));
                    break;
                case EventType.WorkflowExecutionTerminated:
                    closedAt = at;
                    steps.Add(Point("run", $"terminated: {e.WorkflowExecutionTerminatedEventAttributes.Reason}", at, "terminated"));
                    break;
                case EventType.WorkflowExecutionContinuedAsNew:
                    closedAt = at;
                    steps.Add(Point("run", "continued as new", at, "continued"));
                    break;
            }
        }

        Pending(steps, pending);
        var start = steps.Count > 0 ? steps[0].At : now;
        var end = closedAt ?? now;
        return new TimelineModel(start, end < start ? start : end, [.. steps.Select(s => s.ToModel())], events.Count, truncated);
    }

    /// <summary>Attempts and failures of activities still pending: retries are not in the history until the activity ends.</summary>
    private static void Pending(List<Step> steps, IEnumerable<PendingActivityInfo> pending)
    {
        foreach (var info in pending)
        {
            var step = steps.LastOrDefault(s => s.Kind == "activity" && s.ActivityId == info.ActivityId && s.EndedAt is null);
            if (step is null)
            {
                continue;
            }

            step.Attempts = Math.Max(step.Attempts ?? 1, info.Attempt);
            var failure = info.LastFailure;
            var running = info.State is PendingActivityState.Started or PendingActivityState.CancelRequested;
            step.Outcome = info.Paused ? "paused" : running ? "running" : info.Attempt > 1 ? "retrying" : "scheduled";
            if (failure is not null)
            {
                AddFailure(step, failure, $"attempt {info.Attempt - 1}");
            }
        }
    }

    private static Step LocalActivity(MarkerRecordedEventAttributes marker, DateTime at)
    {
        string name = marker.MarkerName;
        int? attempt = null;
        if (marker.Details.TryGetValue("data", out var data) && data.Payloads_.Count > 0)
        {
            try
            {
                using var json = JsonDocument.Parse(data.Payloads_[0].Data.Memory);
                if (json.RootElement.TryGetProperty("activity_type", out var type))
                {
                    name = type.GetString() ?? name;
                }

                if (json.RootElement.TryGetProperty("attempt", out var a) && a.TryGetInt32(out var n))
                {
                    attempt = n;
                }
            }
            catch (JsonException)
            {
                // Another SDK's marker: its name says what it is.
            }
        }

        var step = Point("local activity", name, at, marker.Failure is null ? "completed" : "failed");
        step.Attempts = attempt;
        return step.WithFailure(marker.Failure, null);
    }

    private static void End(Dictionary<long, Step> byEvent, long scheduledId, DateTime at, string outcome, Failure? failure)
    {
        if (byEvent.TryGetValue(scheduledId, out var step))
        {
            step.EndedAt = at;
            step.Outcome = outcome;
            AddFailure(step, failure, step.Attempts is > 1 ? $"attempt {step.Attempts}" : null);
        }
    }

    private static void EndTimer(Dictionary<string, Step> timers, string id, DateTime at, string outcome)
    {
        if (timers.TryGetValue(id, out var step))
        {
            step.EndedAt = at;
            step.Outcome = outcome;
        }
    }

    private static void AddFailure(Step step, Failure? failure, string? label)
    {
        if (failure is null)
        {
            return;
        }

        var text = Describe(failure);
        if (!step.Failures.Any(f => f.EndsWith(text, StringComparison.Ordinal)))
        {
            step.Failures.Add(label is null ? text : $"{label}: {text}");
        }
    }

    /// <summary>A failure's message with its causes, and the application error type where there is one.</summary>
    internal static string Describe(Failure failure)
    {
        // An activity's failure wraps the exception it came from, often with the same message: each message is said once.
        var parts = new List<string>();
        var said = new HashSet<string>(StringComparer.Ordinal);
        for (var f = failure; f is not null && parts.Count < 4; f = f.Cause)
        {
            if (f.Message.Length == 0 || !said.Add(f.Message))
            {
                continue;
            }

            var type = f.ApplicationFailureInfo?.Type;
            parts.Add(string.IsNullOrEmpty(type) ? f.Message : $"{f.Message} ({type})");
        }

        var text = string.Join(" ← ", parts);
        return text.Length > MaxFailureLength ? text[..MaxFailureLength] + "…" : text;
    }

    private static DateTime? Time(Timestamp? timestamp) => timestamp?.ToDateTime();

    private static Step Point(string kind, string name, DateTime at, string outcome) => new(kind, name, at, outcome) { Point = true };

    private static string Seconds(Duration? duration) => duration is null
        ? "?"
        : Layout.Format.Duration(duration.ToTimeSpan());

    /// <summary>A step while it is being assembled from its events.</summary>
    private sealed class Step(string kind, string name, DateTime at, string outcome)
    {
        public string Kind { get; } = kind;

        public string Name { get; } = name;

        public DateTime At { get; } = at;

        public DateTime? EndedAt { get; set; }

        public int? Attempts { get; set; }

        public string Outcome { get; set; } = outcome;

        public string? ActivityId { get; init; }

        /// <summary>Something that happened at one time rather than a span.</summary>
        public bool Point { get; set; }

        public List<string> Failures { get; } = [];

        public Step WithFailure(Failure? failure, string? label)
        {
            AddFailure(this, failure, label);
            return this;
        }

        public TimelineStep ToModel() => new(Kind, Name, At, EndedAt, Point, Attempts, Outcome, Failures);
    }
}
