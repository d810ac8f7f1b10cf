using Temporalio.Api.Command.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.ErrorDetails.V1;
using Temporalio.Api.History.V1;
using Temporalio.Client;
using Temporalio.Converters;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Tests.DevServer;

/// <summary>A counter driven by updates: a validator, a handler that waits for a signal, one that fails, continue-as-new.</summary>
[Workflow]
public class UpdateCounterWorkflow
{
    private readonly int _generation;
    private int _total;
    private bool _released;
    private bool _finished;
    private bool _continue;

    [WorkflowInit]
    public UpdateCounterWorkflow(int generation) => _generation = generation;

    [WorkflowQuery]
    public int Total => _total;

    [WorkflowRun]
    public async Task<int> RunAsync(int generation)
    {
        await Workflow.WaitConditionAsync(() => _finished || _continue);
        if (_continue)
        {
            throw Workflow.CreateContinueAsNewException((UpdateCounterWorkflow wf) => wf.RunAsync(generation + 1));
        }

        return _total;
    }

    [WorkflowUpdate]
    public Task<int> AddAsync(int amount)
    {
        _total += amount;
        return Task.FromResult(_total);
    }

    [WorkflowUpdateValidator(nameof(AddAsync))]
    public void ValidateAdd(int amount)
    {
        if (amount < 0)
        {
            throw new ApplicationFailureException("amount must not be negative");
        }
    }

    [WorkflowUpdate]
    public async Task<int> AddWhenReleasedAsync(int amount)
    {
        await Workflow.WaitConditionAsync(() => _released);
        _total += amount;
        return _total;
    }

    [WorkflowUpdate]
#pragma warning disable CA1822 // the SDK requires update handlers to be instance members
    public Task<int> FailAsync() => throw new ApplicationFailureException("the update failed", errorType: "UpdateFailed");
#pragma warning restore CA1822

    [WorkflowUpdate]
    public Task<int> GenerationAsync() => Task.FromResult(_generation);

    [WorkflowSignal]
    public Task ReleaseAsync()
    {
        _released = true;
        return Task.CompletedTask;
    }

    [WorkflowSignal]
    public Task FinishAsync()
    {
        _finished = true;
        return Task.CompletedTask;
    }

    [WorkflowSignal]
    public Task ContinueAsync()
    {
        _continue = true;
        return Task.CompletedTask;
    }
}

[TestFixture]
[Category("Integration")]
public class UpdateTests : DevServerFixture
{
    private static readonly EventType[] UpdateEvents =
    [
        EventType.WorkflowExecutionUpdateAdmitted, EventType.WorkflowExecutionUpdateAccepted, EventType.WorkflowExecutionUpdateCompleted,
    ];

    private static void Configure(Temporalio.Worker.TemporalWorkerOptions options) => options.AddWorkflow<UpdateCounterWorkflow>();

    private Task<WorkflowHandle<UpdateCounterWorkflow, int>> StartCounterAsync(string queue, string? id = null) =>
        Client.StartWorkflowAsync((UpdateCounterWorkflow wf) => wf.RunAsync(0), new(id ?? NewId(), queue));

    private static async Task<List<HistoryEvent>> HistoryAsync(WorkflowHandle handle, string? runId = null)
    {
        var events = new List<HistoryEvent>();
        var target = runId is null ? handle : handle with { RunId = runId };
        await foreach (var e in target.FetchHistoryEventsAsync())
        {
            events.Add(e);
        }

        return events;
    }

    [Test]
    public async Task ExecuteUpdateAsync_WhenAccepted_ReturnsTheResultAndWritesAcceptedAndCompletedEvents()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, Configure, async () =>
        {
            var handle = await StartCounterAsync(queue);
            Assert.That(await handle.ExecuteUpdateAsync(wf => wf.AddAsync(2)), Is.EqualTo(2));
            Assert.That(await handle.ExecuteUpdateAsync(wf => wf.AddAsync(3)), Is.EqualTo(5));

            var events = await HistoryAsync(handle);
            var accepted = events.Where(e => e.EventType == EventType.WorkflowExecutionUpdateAccepted).ToList();
            var completed = events.Where(e => e.EventType == EventType.WorkflowExecutionUpdateCompleted).ToList();
            Assert.That(accepted, Has.Count.EqualTo(2));
            Assert.That(completed, Has.Count.EqualTo(2));
            Assert.That(accepted[0].WorkflowExecutionUpdateAcceptedEventAttributes.AcceptedRequest.Input.Name, Is.EqualTo("Add"));
            Assert.That(completed[0].WorkflowExecutionUpdateCompletedEventAttributes.AcceptedEventId, Is.EqualTo(accepted[0].EventId));
            Assert.That(completed[1].WorkflowExecutionUpdateCompletedEventAttributes.Outcome.Success, Is.Not.Null);
            Assert.That(await handle.QueryAsync(wf => wf.Total), Is.EqualTo(5));
        });
    }

    [Test]
    public async Task ExecuteUpdateAsync_WhenTheValidatorRejects_FailsTheCallAndLeavesNoEventsInTheHistory()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, Configure, async () =>
        {
            var handle = await StartCounterAsync(queue);
            Assert.That(await handle.ExecuteUpdateAsync(wf => wf.AddAsync(1)), Is.EqualTo(1));
            var before = await HistoryAsync(handle);

            var error = await ThrowsAsync<WorkflowUpdateFailedException>(() => handle.ExecuteUpdateAsync(wf => wf.AddAsync(-5)));
            Assert.That(error.InnerException, Is.InstanceOf<ApplicationFailureException>());
            Assert.That(error.InnerException!.Message, Is.EqualTo("amount must not be negative"));

            // The speculative task that carried it was discarded: not even a WorkflowTaskScheduled is left behind.
            var after = await HistoryAsync(handle);
            Assert.That(after.Select(e => e.EventType), Is.EqualTo(before.Select(e => e.EventType)));

            // The worker rolled back to its last completed task and goes on from there.
            Assert.That(await handle.QueryAsync(wf => wf.Total), Is.EqualTo(1));
            Assert.That(await handle.ExecuteUpdateAsync(wf => wf.AddAsync(2)), Is.EqualTo(3));
        });
    }

    [Test]
    public async Task ExecuteUpdateAsync_WhenTheHandlerFails_ThrowsTheFailureRecordedInTheCompletedEvent()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, Configure, async () =>
        {
            var handle = await StartCounterAsync(queue);
            var error = await ThrowsAsync<WorkflowUpdateFailedException>(() => handle.ExecuteUpdateAsync(wf => wf.FailAsync()));
            Assert.That(error.InnerException, Is.InstanceOf<ApplicationFailureException>());
            Assert.That(((ApplicationFailureException)error.InnerException!).ErrorType, Is.EqualTo("UpdateFailed"));

            var completed = (await HistoryAsync(handle)).Single(e => e.EventType == EventType.WorkflowExecutionUpdateCompleted);
            Assert.That(completed.WorkflowExecutionUpdateCompletedEventAttributes.Outcome.Failure.Message, Is.EqualTo("the update failed"));
        });
    }

    [Test]
    public async Task StartUpdateAsync_WhenWaitingForAccepted_ReturnsBeforeCompletionAndTheResultIsPolled()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, Configure, async () =>
        {
            var handle = await StartCounterAsync(queue);
            var update = await handle.StartUpdateAsync(
                wf => wf.AddWhenReleasedAsync(5),
                new WorkflowUpdateStartOptions("add-5", WorkflowUpdateStage.Accepted));
            var events = await HistoryAsync(handle);
            Assert.That(events.Count(e => e.EventType == EventType.WorkflowExecutionUpdateAccepted), Is.EqualTo(1));
            Assert.That(events.Count(e => e.EventType == EventType.WorkflowExecutionUpdateCompleted), Is.Zero);

            await handle.SignalAsync(wf => wf.ReleaseAsync());
            Assert.That(await update.GetResultAsync(), Is.EqualTo(5));
        });
    }

    [Test]
    public async Task StartUpdateAsync_WithAnUpdateIdInUse_AttachesToThatUpdateAndItsOutcome()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, Configure, async () =>
        {
            var handle = await StartCounterAsync(queue);
            var first = await handle.StartUpdateAsync(
                wf => wf.AddWhenReleasedAsync(5),
                new WorkflowUpdateStartOptions("same-id", WorkflowUpdateStage.Accepted));
            // Same id, other argument: the request is a duplicate, so it attaches to the update in flight.
            var second = await handle.StartUpdateAsync(
                wf => wf.AddWhenReleasedAsync(7),
                new WorkflowUpdateStartOptions("same-id", WorkflowUpdateStage.Accepted));

            await handle.SignalAsync(wf => wf.ReleaseAsync());
            Assert.That(await first.GetResultAsync(), Is.EqualTo(5));
            Assert.That(await second.GetResultAsync(), Is.EqualTo(5));
            // Once completed, the same id answers with the recorded outcome.
            Assert.That(await handle.ExecuteUpdateAsync(wf => wf.AddWhenReleasedAsync(100), new("same-id")), Is.EqualTo(5));

            var events = await HistoryAsync(handle);
            Assert.That(events.Count(e => e.EventType == EventType.WorkflowExecutionUpdateAccepted), Is.EqualTo(1));
            Assert.That(events.Count(e => e.EventType == EventType.WorkflowExecutionUpdateCompleted), Is.EqualTo(1));
            Assert.That(await handle.QueryAsync(wf => wf.Total), Is.EqualTo(5));
        });
    }

    [Test]
    public async Task ExecuteUpdateAsync_AfterTheStickyWorkerStops_IsDeliveredOnTheNormalQueueWithFullHistory()
    {
        var queue = NewQueue();
        WorkflowHandle<UpdateCounterWorkflow, int>? handle = null;
        await RunWorkerAsync(queue, Configure, async () =>
        {
            handle = await StartCounterAsync(queue);
            Assert.That(await handle.ExecuteUpdateAsync(wf => wf.AddAsync(1)), Is.EqualTo(1));
            Assert.That(await handle.ExecuteUpdateAsync(wf => wf.AddAsync(1)), Is.EqualTo(2));
        });

        // A new worker has no cached run: it replays the history, accepted and completed updates included.
        await RunWorkerAsync(queue, Configure, async () =>
        {
            Assert.That(await handle!.ExecuteUpdateAsync(wf => wf.AddAsync(3)), Is.EqualTo(5));
            await handle.SignalAsync(wf => wf.FinishAsync());
            Assert.That(await handle.GetResultAsync(), Is.EqualTo(5));
        });
    }

    [Test]
    public async Task ExecuteUpdateAsync_OnAClosedRun_KeepsPastOutcomesAndRefusesNewUpdates()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, Configure, async () =>
        {
            var handle = await StartCounterAsync(queue);
            Assert.That(await handle.ExecuteUpdateAsync(wf => wf.AddAsync(4), new("before-close")), Is.EqualTo(4));
            await handle.SignalAsync(wf => wf.FinishAsync());
            Assert.That(await handle.GetResultAsync(), Is.EqualTo(4));

            Assert.That(await handle.GetUpdateHandle<int>("before-close").GetResultAsync(), Is.EqualTo(4));
            Assert.That(await handle.ExecuteUpdateAsync(wf => wf.AddAsync(9), new("before-close")), Is.EqualTo(4));
            var error = await ThrowsAsync<RpcException>(() => handle.ExecuteUpdateAsync(wf => wf.AddAsync(1)));
            Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.NotFound));
            Assert.That(error.Message, Does.Contain("already completed"));
        });
    }

    [Test]
    public async Task ExecuteUpdateAsync_WhenTheWorkflowCompletesWithTheHandlerUnfinished_FailsTheUpdate()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, Configure, async () =>
        {
            var handle = await StartCounterAsync(queue);
            var update = await handle.StartUpdateAsync(
                wf => wf.AddWhenReleasedAsync(1),
                new WorkflowUpdateStartOptions(WorkflowUpdateStage.Accepted));
            await handle.SignalAsync(wf => wf.FinishAsync());
            Assert.That(await handle.GetResultAsync(), Is.Zero);

            var error = await ThrowsAsync<WorkflowUpdateFailedException>(() => update.GetResultAsync());
            Assert.That(error.InnerException!.Message, Does.Contain("Workflow completed before the Update completed"));
        });
    }

    [Test]
    public async Task ExecuteUpdateAsync_WhenTheRunContinuesAsNewBeforeAccepting_IsDeliveredToTheNewRun()
    {
        var queue = NewQueue();
        var handle = await StartCounterAsync(queue);
        // The first task is taken by hand so that it is in flight when the update arrives.
        var task = await Client.WorkflowService.PollWorkflowTaskQueueAsync(new()
        {
            Namespace = "default",
            TaskQueue = new() { Name = queue },
            Identity = "test",
        });
        var update = handle.ExecuteUpdateAsync(wf => wf.GenerationAsync(), new("across-continue"));
        // Admitted (PollWorkflowExecutionUpdate without a wait stage answers at once) while the task is still running.
        await WaitUntilAsync(async () =>
        {
            try
            {
                var poll = await Client.WorkflowService.PollWorkflowExecutionUpdateAsync(new()
                {
                    Namespace = "default",
                    UpdateRef = new() { WorkflowExecution = new() { WorkflowId = handle.Id }, UpdateId = "across-continue" },
                });
                return poll.Stage == UpdateWorkflowExecutionLifecycleStage.Admitted;
            }
            catch (RpcException e) when (e.Code == RpcException.StatusCode.NotFound)
            {
                return false;
            }
        });

        await Client.WorkflowService.RespondWorkflowTaskCompletedAsync(new()
        {
            Namespace = "default",
            TaskToken = task.TaskToken,
            Identity = "test",
            Commands =
            {
                new Command
                {
                    CommandType = CommandType.ContinueAsNewWorkflowExecution,
                    ContinueAsNewWorkflowExecutionCommandAttributes = new()
                    {
                        WorkflowType = new() { Name = "UpdateCounterWorkflow" },
                        TaskQueue = new() { Name = queue },
                        Input = new() { Payloads_ = { DataConverter.Default.PayloadConverter.ToPayload(1) } },
                    },
                },
            },
        });

        await RunWorkerAsync(queue, Configure, async () => Assert.That(await update, Is.EqualTo(1)));
        var first = await HistoryAsync(handle, task.WorkflowExecution.RunId);
        Assert.That(first.Where(e => UpdateEvents.Contains(e.EventType)), Is.Empty);
        Assert.That(first[^1].EventType, Is.EqualTo(EventType.WorkflowExecutionContinuedAsNew));
    }

    [Test]
    public async Task ExecuteUpdateWithStartWorkflowAsync_StartsOrUsesTheRunningWorkflowAsTheConflictPolicySays()
    {
        var queue = NewQueue();
        var id = NewId();
        await RunWorkerAsync(queue, Configure, async () =>
        {
            var start = WithStartWorkflowOperation.Create(
                (UpdateCounterWorkflow wf) => wf.RunAsync(0),
                new(id, queue) { IdConflictPolicy = WorkflowIdConflictPolicy.UseExisting });
            var added = await Client.ExecuteUpdateWithStartWorkflowAsync((UpdateCounterWorkflow wf) => wf.AddAsync(2), new(start));
            Assert.That(added, Is.EqualTo(2));
            var handle = await start.GetHandleAsync();

            // The update rode on the first workflow task.
            var events = await HistoryAsync(handle);
            var acceptedAt = events.FindIndex(e => e.EventType == EventType.WorkflowExecutionUpdateAccepted);
            Assert.That(events.Take(acceptedAt).Count(e => e.EventType == EventType.WorkflowTaskCompleted), Is.EqualTo(1));

            var useExisting = WithStartWorkflowOperation.Create(
                (UpdateCounterWorkflow wf) => wf.RunAsync(0),
                new(id, queue) { IdConflictPolicy = WorkflowIdConflictPolicy.UseExisting });
            var accepted = await Client.StartUpdateWithStartWorkflowAsync(
                (UpdateCounterWorkflow wf) => wf.AddAsync(3),
                new(useExisting, WorkflowUpdateStage.Accepted));
            Assert.That(await accepted.GetResultAsync(), Is.EqualTo(5));
            Assert.That((await useExisting.GetHandleAsync()).ResultRunId, Is.EqualTo(handle.ResultRunId));

            var fail = WithStartWorkflowOperation.Create(
                (UpdateCounterWorkflow wf) => wf.RunAsync(0),
                new(id, queue) { IdConflictPolicy = WorkflowIdConflictPolicy.Fail });
            await ThrowsAsync<WorkflowAlreadyStartedException>(
                () => Client.ExecuteUpdateWithStartWorkflowAsync((UpdateCounterWorkflow wf) => wf.AddAsync(1), new(fail)));
            Assert.That(await handle.QueryAsync(wf => wf.Total), Is.EqualTo(5));
        });
    }

    [Test]
    public async Task ExecuteMultiOperation_WithARunIdOnTheUpdate_AnswersMultiOperationExecutionFailure()
    {
        var id = NewId();
        var error = await ThrowsAsync<RpcException>(() => Client.WorkflowService.ExecuteMultiOperationAsync(new()
        {
            Namespace = "default",
            Operations =
            {
                new Temporalio.Api.WorkflowService.V1.ExecuteMultiOperationRequest.Types.Operation
                {
                    StartWorkflow = new()
                    {
                        Namespace = "default",
                        WorkflowId = id,
                        WorkflowType = new() { Name = "UpdateCounterWorkflow" },
                        TaskQueue = new() { Name = NewQueue() },
                        RequestId = Guid.NewGuid().ToString(),
                        WorkflowIdConflictPolicy = WorkflowIdConflictPolicy.Fail,
                    },
                },
                new Temporalio.Api.WorkflowService.V1.ExecuteMultiOperationRequest.Types.Operation
                {
                    UpdateWorkflow = new()
                    {
                        Namespace = "default",
                        WorkflowExecution = new() { WorkflowId = id, RunId = Guid.NewGuid().ToString() },
                        Request = new() { Meta = new() { UpdateId = "u" }, Input = new() { Name = "Add" } },
                        WaitPolicy = new() { LifecycleStage = UpdateWorkflowExecutionLifecycleStage.Completed },
                    },
                },
            },
        }));

        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.InvalidArgument));
        Assert.That(error.GrpcStatus.Value!.Details[0].TryUnpack(out MultiOperationExecutionFailure failure), Is.True);
        Assert.That(
            failure.Statuses.Select(s => s.Code),
            Is.EqualTo(new[] { (int)RpcException.StatusCode.Aborted, (int)RpcException.StatusCode.InvalidArgument }));
        Assert.That(failure.Statuses[1].Message, Is.EqualTo("RunId is not allowed."));
        Assert.That(failure.Statuses[0].Details[0].Is(Temporalio.Api.Failure.V1.MultiOperationExecutionAborted.Descriptor), Is.True);
    }
}
