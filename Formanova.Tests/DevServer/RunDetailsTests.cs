// The SDK requires [WorkflowRun] methods to be instance members even when they keep no state.
#pragma warning disable CA1822
using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Command.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.History.V1;
using Temporalio.Client;
using Temporalio.Common;
using Temporalio.Converters;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Tests.DevServer;

/// <summary>
/// What a run carries besides its state: memo deletes, user metadata, priority, the root of a child chain,
/// continue-as-new backoff, coinciding activity deadlines and the worker's deployment on completed tasks.
/// </summary>
[TestFixture]
[Category("Integration")]
public class RunDetailsTests : DevServerFixture
{
    [Test]
    public async Task UpsertMemo_WhenValueIsUnset_RemovesTheKey()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<MemoWorkflow>(), async () =>
        {
            var handle = await Client.StartWorkflowAsync((MemoWorkflow wf) => wf.RunAsync(), new(NewId(), queue)
            {
                Memo = new Dictionary<string, object> { ["keep"] = "k", ["unset"] = "u" },
            });
            await handle.GetResultAsync();

            var description = await handle.DescribeAsync();
            Assert.That(description.Memo.Keys, Is.EquivalentTo(new[] { "keep", "added" }));
            Assert.That(await description.Memo["added"].ToValueAsync<string>(), Is.EqualTo("a"));
        });
    }

    [Test]
    public async Task StartWorkflow_WithStaticSummaryAndDetails_StoresUserMetadataOnStartChildTimerAndActivity()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<MetadataWorkflow>().AddWorkflow<GreetingWorkflow>()
            .AddActivity(TestActivities.Greet), async () =>
        {
            var handle = await Client.StartWorkflowAsync((MetadataWorkflow wf) => wf.RunAsync(), new(NewId(), queue)
            {
                StaticSummary = "nightly retraining",
                StaticDetails = "dataset **v7**",
            });
            var childId = await handle.GetResultAsync<string>();

            var description = await handle.DescribeAsync();
            Assert.That(await description.GetStaticSummaryAsync(), Is.EqualTo("nightly retraining"));
            Assert.That(await description.GetStaticDetailsAsync(), Is.EqualTo("dataset **v7**"));
            var events = (await handle.FetchHistoryAsync()).Events;
            Assert.That(Summary(events, EventType.WorkflowExecutionStarted), Is.EqualTo("nightly retraining"));
            Assert.That(Summary(events, EventType.TimerStarted), Is.EqualTo("short pause"));
            Assert.That(Summary(events, EventType.ActivityTaskScheduled), Is.EqualTo("greet someone"));
            Assert.That(Summary(events, EventType.StartChildWorkflowExecutionInitiated), Is.EqualTo("child summary"));
            var child = await Client.GetWorkflowHandle(childId).DescribeAsync();
            Assert.That(await child.GetStaticSummaryAsync(), Is.EqualTo("child summary"));
        });
    }

    [Test]
    public async Task StartWorkflow_WithPriority_RecordsItOnStartChildAndActivityAndInDescribe()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<PriorityWorkflow>().AddWorkflow<GreetingWorkflow>()
            .AddActivity(TestActivities.Greet), async () =>
        {
            var handle = await Client.StartWorkflowAsync((PriorityWorkflow wf) => wf.RunAsync(), new(NewId(), queue)
            {
                Priority = new Priority(priorityKey: 2, fairnessKey: "tenant-a", fairnessWeight: 1.5f),
            });
            var childId = await handle.GetResultAsync<string>();

            var events = (await handle.FetchHistoryAsync()).Events;
            var started = events.Single(e => e.EventType == EventType.WorkflowExecutionStarted).WorkflowExecutionStartedEventAttributes;
            var priority = started.Priority;
            Assert.That((priority.PriorityKey, priority.FairnessKey, priority.FairnessWeight), Is.EqualTo((2, "tenant-a", 1.5f)));
            var initiated = events.Single(e => e.EventType == EventType.StartChildWorkflowExecutionInitiated);
            Assert.That(initiated.StartChildWorkflowExecutionInitiatedEventAttributes.Priority.PriorityKey, Is.EqualTo(4));
            var scheduled = events.Single(e => e.EventType == EventType.ActivityTaskScheduled);
            Assert.That(scheduled.ActivityTaskScheduledEventAttributes.Priority.PriorityKey, Is.EqualTo(1));
            var description = await DescribeAsync(handle.Id);
            Assert.That(description.WorkflowExecutionInfo.Priority.FairnessKey, Is.EqualTo("tenant-a"));
            var child = await DescribeAsync(childId);
            Assert.That(child.WorkflowExecutionInfo.Priority.PriorityKey, Is.EqualTo(4));
        });
    }

    [Test]
    public async Task StartChild_ThroughTwoLevels_GrandchildCarriesTheRootAndItsParent()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<ChainWorkflow>(), async () =>
        {
            var handle = await Client.StartWorkflowAsync((ChainWorkflow wf) => wf.RunAsync(2), new(NewId(), queue));
            var grandchildId = await handle.GetResultAsync<string>();
            var root = await DescribeAsync(handle.Id);
            var childId = handle.Id + "-1";

            var grandchild = await DescribeAsync(grandchildId);
            Assert.That(grandchildId, Is.EqualTo(handle.Id + "-1-2"));
            Assert.That(grandchild.WorkflowExecutionInfo.RootExecution, Is.EqualTo(root.WorkflowExecutionInfo.Execution));
            Assert.That(grandchild.WorkflowExecutionInfo.ParentExecution.WorkflowId, Is.EqualTo(childId));
            Assert.That(grandchild.WorkflowExecutionInfo.ParentNamespaceId, Is.Not.Empty);
            var started = (await Client.GetWorkflowHandle(grandchildId).FetchHistoryAsync()).Events.First()
                .WorkflowExecutionStartedEventAttributes;
            Assert.That(started.RootWorkflowExecution, Is.EqualTo(root.WorkflowExecutionInfo.Execution));
            Assert.That(started.ParentWorkflowExecution.WorkflowId, Is.EqualTo(childId));
            var rootExecution = root.WorkflowExecutionInfo.Execution;
            Assert.That(root.WorkflowExecutionInfo.RootExecution, Is.EqualTo(rootExecution), "a run without parent is its own root");
            Assert.That((await DescribeAsync(childId)).WorkflowExecutionInfo.RootExecution, Is.EqualTo(rootExecution));
        });
    }

    [Test]
    public async Task ContinueAsNew_WithBackoffStartInterval_RecordsItAndDelaysTheNewRunsFirstTask()
    {
        var queue = NewQueue();
        var handle = await Client.StartWorkflowAsync((GreetingWorkflow wf) => wf.RunAsync("first"), new(NewId(), queue));
        var task = await Client.WorkflowService.PollWorkflowTaskQueueAsync(new()
        {
            Namespace = "default",
            TaskQueue = new() { Name = queue },
            Identity = "by-hand",
        });
        var command = new Command
        {
            CommandType = CommandType.ContinueAsNewWorkflowExecution,
            ContinueAsNewWorkflowExecutionCommandAttributes = new ContinueAsNewWorkflowExecutionCommandAttributes
            {
                WorkflowType = new() { Name = "GreetingWorkflow" },
                TaskQueue = new() { Name = queue },
                BackoffStartInterval = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
            },
        };
        await Client.WorkflowService.RespondWorkflowTaskCompletedAsync(new()
        {
            Namespace = "default",
            TaskToken = task.TaskToken,
            Identity = "by-hand",
            Commands = { command },
        });

        var firstRun = (await Client.GetWorkflowHandle(handle.Id, handle.ResultRunId).FetchHistoryAsync()).Events;
        var continued = firstRun.Last().WorkflowExecutionContinuedAsNewEventAttributes;
        Assert.That(continued.BackoffStartInterval.ToTimeSpan(), Is.EqualTo(TimeSpan.FromHours(1)));
        var next = await DescribeAsync(handle.Id);
        var nextRun = Client.GetWorkflowHandle(handle.Id, next.WorkflowExecutionInfo.Execution.RunId);
        var nextStarted = (await nextRun.FetchHistoryAsync()).Events;
        var backoff = nextStarted.First().WorkflowExecutionStartedEventAttributes.FirstWorkflowTaskBackoff;
        Assert.That(backoff.ToTimeSpan(), Is.EqualTo(TimeSpan.FromHours(1)));
        Assert.That(nextStarted, Has.Count.EqualTo(1), "no workflow task before the backoff has passed");
        Assert.That(next.PendingWorkflowTask, Is.Null);
        Assert.That(
            next.WorkflowExecutionInfo.ExecutionTime.ToDateTime() - next.WorkflowExecutionInfo.StartTime.ToDateTime(),
            Is.EqualTo(TimeSpan.FromHours(1)));
        await Client.GetWorkflowHandle(handle.Id).TerminateAsync();
    }

    [Test]
    public async Task ActivityTimeout_WhenScheduleToStartEqualsScheduleToClose_FiresScheduleToStart()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<EqualDeadlinesWorkflow>(), async () =>
        {
            var result = await Client.ExecuteWorkflowAsync((EqualDeadlinesWorkflow wf) => wf.RunAsync(), new(NewId(), queue));

            Assert.That(result, Is.EqualTo("ScheduleToStart"));
        });
    }

    [Test]
    public async Task CompleteWorkflowTask_FromWorkerWithDeploymentOptions_RecordsDeploymentOnTheCompletedEvent()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o =>
        {
            o.DeploymentOptions = new Temporalio.Worker.WorkerDeploymentOptions(new WorkerDeploymentVersion("fnv-host", "build-7"), true)
            {
                DefaultVersioningBehavior = Temporalio.Common.VersioningBehavior.AutoUpgrade,
            };
            o.AddWorkflow<GreetingWorkflow>().AddActivity(TestActivities.Greet);
        }, async () =>
        {
            var handle = await Client.StartWorkflowAsync((GreetingWorkflow wf) => wf.RunAsync("deployed"), new(NewId(), queue));
            await handle.GetResultAsync();

            var completed = (await handle.FetchHistoryAsync()).Events
                .Where(e => e.EventType == EventType.WorkflowTaskCompleted)
                .Select(e => e.WorkflowTaskCompletedEventAttributes)
                .ToList();
            Assert.That(completed, Has.All.Matches<WorkflowTaskCompletedEventAttributes>(c => c.WorkerDeploymentName == "fnv-host"
                && c.DeploymentVersion.DeploymentName == "fnv-host" && c.DeploymentVersion.BuildId == "build-7"
                && c.VersioningBehavior == Temporalio.Api.Enums.V1.VersioningBehavior.AutoUpgrade));
        });
    }

    private static string? Summary(IEnumerable<HistoryEvent> events, EventType type) =>
        events.First(e => e.EventType == type).UserMetadata?.Summary is { } summary
            ? DataConverter.Default.PayloadConverter.ToValue<string>(summary)
            : null;

    private Task<Temporalio.Api.WorkflowService.V1.DescribeWorkflowExecutionResponse> DescribeAsync(string workflowId) =>
        Client.WorkflowService.DescribeWorkflowExecutionAsync(new()
        {
            Namespace = "default",
            Execution = new() { WorkflowId = workflowId },
        });
}

[Workflow]
public class MemoWorkflow
{
    [WorkflowRun]
    public async Task RunAsync()
    {
        Workflow.UpsertMemo(MemoUpdate.ValueUnset("unset"), MemoUpdate.ValueSet("added", "a"));
        await Workflow.DelayAsync(TimeSpan.FromMilliseconds(1));
    }
}

[Workflow]
public class MetadataWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync()
    {
        await Workflow.DelayWithOptionsAsync(new DelayOptions(TimeSpan.FromMilliseconds(1), "short pause"));
        await Workflow.ExecuteActivityAsync(() => TestActivities.Greet("x"), new()
        {
            StartToCloseTimeout = TimeSpan.FromSeconds(10),
            Summary = "greet someone",
        });
        var childId = Workflow.Info.WorkflowId + "-child";
        await Workflow.ExecuteChildWorkflowAsync((GreetingWorkflow wf) => wf.RunAsync("child"), new()
        {
            Id = childId,
            StaticSummary = "child summary",
        });
        return childId;
    }
}

[Workflow]
public class PriorityWorkflow
{
    [WorkflowRun]
    public async Task<string> RunAsync()
    {
        await Workflow.ExecuteActivityAsync(() => TestActivities.Greet("x"), new()
        {
            StartToCloseTimeout = TimeSpan.FromSeconds(10),
            Priority = new Priority(priorityKey: 1),
        });
        var childId = Workflow.Info.WorkflowId + "-child";
        await Workflow.ExecuteChildWorkflowAsync((GreetingWorkflow wf) => wf.RunAsync("child"), new()
        {
            Id = childId,
            Priority = new Priority(priorityKey: 4),
        });
        return childId;
    }
}

[Workflow]
public class ChainWorkflow
{
    /// <summary>Starts a child that starts a child, <paramref name="depth"/> levels down; returns the deepest one's id.</summary>
    [WorkflowRun]
    public async Task<string> RunAsync(int depth) =>
        depth == 0
            ? Workflow.Info.WorkflowId
            : await Workflow.ExecuteChildWorkflowAsync(
                (ChainWorkflow wf) => wf.RunAsync(depth - 1),
                new() { Id = $"{Workflow.Info.WorkflowId}-{3 - depth}" });
}

[Workflow]
public class EqualDeadlinesWorkflow
{
    /// <summary>An activity on a queue nobody polls, whose two not-started deadlines fall due together.</summary>
    [WorkflowRun]
    public async Task<string> RunAsync()
    {
        try
        {
            await Workflow.ExecuteActivityAsync(() => TestActivities.Greet("nobody"), new()
            {
                TaskQueue = "unpolled-" + Workflow.Info.WorkflowId,
                ScheduleToStartTimeout = TimeSpan.FromMilliseconds(300),
                ScheduleToCloseTimeout = TimeSpan.FromMilliseconds(300),
            });
            return "completed";
        }
        catch (ActivityFailureException e) when (e.InnerException is TimeoutFailureException timeout)
        {
            return timeout.TimeoutType.ToString();
        }
    }
}
