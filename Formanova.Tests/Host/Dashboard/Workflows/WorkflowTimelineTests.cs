using Formanova.Host.Dashboard.Workflows;
using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.Failure.V1;
using Temporalio.Api.History.V1;
using Temporalio.Api.Workflow.V1;

namespace Formanova.Tests.Host.Dashboard.Workflows;

/// <summary>A run's steps from history events shaped as Temporal writes them.</summary>
public sealed class WorkflowTimelineTests
{
    private static readonly DateTime T0 = new(2026, 11, 26, 12, 0, 0, DateTimeKind.Utc);

    private long _eventId;

    [SetUp]
    public void SetUp() => _eventId = 0;

    [Test]
    public void Build_WhenAnActivityRetriedAndThenCompleted_GivesItsAttemptsTheFailureBeforeAndItsSpan()
    {
        var events = new List<HistoryEvent> { Started(0) };
        var scheduled = Scheduled(1, "prepare_training_data", "1");
        events.Add(scheduled);
        events.Add(Event(6, EventType.ActivityTaskStarted, e => e.ActivityTaskStartedEventAttributes = new()
        {
            ScheduledEventId = scheduled.EventId,
            Attempt = 3,
            LastFailure = Failure("database is down", "Unavailable"),
        }));
        events.Add(Event(7, EventType.ActivityTaskCompleted, e => e.ActivityTaskCompletedEventAttributes = new()
        {
            ScheduledEventId = scheduled.EventId,
        }));

        var timeline = WorkflowTimeline.Build(events, [], T0.AddSeconds(10), truncated: false);

        var step = timeline.Steps.Single(s => s.Kind == "activity");
        Assert.That(step.Name, Is.EqualTo("prepare_training_data"));
        Assert.That(step.Attempts, Is.EqualTo(3));
        Assert.That(step.Outcome, Is.EqualTo("completed"));
        Assert.That(step.At, Is.EqualTo(T0.AddSeconds(1)));
        Assert.That(step.EndedAt, Is.EqualTo(T0.AddSeconds(7)));
        Assert.That(step.Failures, Is.EqualTo(new[] { "attempt 2: database is down (Unavailable)" }));
        Assert.That(step.Failed, Is.False);
        Assert.That(timeline.End, Is.EqualTo(T0.AddSeconds(10)), "a running run's timeline reaches the present");
    }

    [Test]
    public void Build_WhenAnActivityFailedAndTheRunFailed_MarksBothFailedWithTheirMessages()
    {
        var scheduled = Scheduled(1, "train_model", "1");
        var events = new List<HistoryEvent>
        {
            Started(0),
            scheduled,
            Event(2, EventType.ActivityTaskStarted, e => e.ActivityTaskStartedEventAttributes = new()
            {
                ScheduledEventId = scheduled.EventId,
                Attempt = 1,
            }),
            Event(4, EventType.ActivityTaskFailed, e => e.ActivityTaskFailedEventAttributes = new()
            {
                ScheduledEventId = scheduled.EventId,
                Failure = Failure("the label has one value", "Value", Failure("the label has one value", null)),
            }),
            Event(5, EventType.WorkflowExecutionFailed, e => e.WorkflowExecutionFailedEventAttributes = new()
            {
                Failure = new Failure { Message = "Activity task failed", Cause = Failure("the label has one value", "Value") },
            }),
        };

        var timeline = WorkflowTimeline.Build(events, [], T0.AddMinutes(5), truncated: false);

        var activity = timeline.Steps.Single(s => s.Kind == "activity");
        Assert.That(activity.Failed, Is.True);
        Assert.That(activity.Failures.Single(), Is.EqualTo("the label has one value (Value)"), "the wrapped exception says the same");
        var close = timeline.Steps[^1];
        Assert.That((close.Kind, close.Name, close.Point, close.Failed), Is.EqualTo(("run", "failed", true, true)));
        Assert.That(close.Failures.Single(), Is.EqualTo("Activity task failed ← the label has one value (Value)"));
        Assert.That(timeline.End, Is.EqualTo(T0.AddSeconds(5)), "a closed run's timeline ends at its close");
    }

    [Test]
    public void Build_WhenATimerRanAndASignalCame_ListsTheTimerWithItsDurationAndTheSignalAtItsTime()
    {
        var events = new List<HistoryEvent>
        {
            Started(0),
            Event(1, EventType.TimerStarted, e => e.TimerStartedEventAttributes = new()
            {
                TimerId = "1",
                StartToFireTimeout = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
            }),
            Event(9, EventType.WorkflowExecutionSignaled, e => e.WorkflowExecutionSignaledEventAttributes = new()
            {
                SignalName = "approve",
            }),
            Event(9, EventType.TimerCanceled, e => e.TimerCanceledEventAttributes = new() { TimerId = "1" }),
        };

        var timeline = WorkflowTimeline.Build(events, [], T0.AddSeconds(20), truncated: false);

        var timer = timeline.Steps.Single(s => s.Kind == "timer");
        Assert.That(timer.Name, Is.EqualTo("1 h 0 min (timer 1)"));
        Assert.That((timer.Outcome, timer.EndedAt), Is.EqualTo(("cancelled", (DateTime?)T0.AddSeconds(9))));
        var signal = timeline.Steps.Single(s => s.Kind == "signal");
        Assert.That((signal.Name, signal.Point, signal.At), Is.EqualTo(("approve", true, T0.AddSeconds(9))));
    }

    [Test]
    public void Build_WhenAnActivityIsStillRetrying_TakesItsAttemptAndLastFailureFromThePendingActivity()
    {
        var events = new List<HistoryEvent> { Started(0), Scheduled(1, "process_chunk", "7") };
        var pending = new PendingActivityInfo
        {
            ActivityId = "7",
            Attempt = 4,
            State = PendingActivityState.Scheduled,
            LastFailure = Failure("chunk 3 timed out", null),
        };

        var timeline = WorkflowTimeline.Build(events, [pending], T0.AddSeconds(30), truncated: false);

        var step = timeline.Steps.Single(s => s.Kind == "activity");
        Assert.That((step.Outcome, step.Attempts, step.Ongoing), Is.EqualTo(("retrying", (int?)4, true)));
        Assert.That(step.Failures, Is.EqualTo(new[] { "attempt 3: chunk 3 timed out" }));
        Assert.That(timeline.Position(step.At), Is.EqualTo(1000.0 / 30).Within(1e-6));
    }

    private HistoryEvent Started(int second) =>
        Event(second, EventType.WorkflowExecutionStarted, e => e.WorkflowExecutionStartedEventAttributes = new()
        {
            WorkflowType = new WorkflowType { Name = "ModelTrainingWorkflow" },
        });

    private HistoryEvent Scheduled(int second, string type, string activityId) =>
        Event(second, EventType.ActivityTaskScheduled, e => e.ActivityTaskScheduledEventAttributes = new()
        {
            ActivityId = activityId,
            ActivityType = new ActivityType { Name = type },
        });

    private HistoryEvent Event(int second, EventType type, Action<HistoryEvent> attributes)
    {
        var e = new HistoryEvent { EventId = ++_eventId, EventType = type, EventTime = Timestamp.FromDateTime(T0.AddSeconds(second)) };
        attributes(e);
        return e;
    }

    private static Failure Failure(string message, string? type, Failure? cause = null) => new()
    {
        Message = message,
        ApplicationFailureInfo = type is null ? null : new ApplicationFailureInfo { Type = type },
        Cause = cause,
    };
}
