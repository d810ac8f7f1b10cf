using Formanova.Host.Workflows.Training;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Temporalio.Activities;
using Temporalio.Client;
using Temporalio.Exceptions;

namespace Formanova.Tests.Workflows.Fast;

public sealed class AutoTrainingFastTests : StubWorkerFixture
{
    private static TrainingRunInput Auto(double budgetSeconds = 60, int parallelism = 2) =>
        StubInputs.Training() with { Trainer = "auto", TimeBudgetSeconds = budgetSeconds, AutoParallelism = parallelism };

    [Test]
    public async Task RunAsync_WhenTheTrainerIsAuto_EvaluatesEveryCandidateThenTrainsTheBestWithItsLeaderboard()
    {
        var stubs = new StubActivities();
        TrainInput? trained = null;
        var train = stubs.Train;
        stubs.Train = t =>
        {
            trained = t;
            return train(t);
        };
        await WithWorkerAsync(stubs, async queue =>
        {
            var handle = await Client.StartWorkflowAsync((ModelTrainingWorkflow wf) => wf.RunAsync(Auto()), Start(queue, "auto"));
            var result = await handle.GetResultAsync();

            Assert.That(
                stubs.Calls.Take(3),
                Is.EqualTo(new[] { $"emit:{IEventModule.WorkflowStarted}", "prepare_training_data", "plan_auto_training" }));
            Assert.That(
                stubs.Calls.Skip(3).Take(3),
                Is.EquivalentTo(new[] { "evaluate:FastTree", "evaluate:LightGbm", "evaluate:LbfgsLogisticRegression" }));
            Assert.That(stubs.Calls.Skip(6), Is.EqualTo(new[]
            {
                "train_model", "register_model", "activate_model", $"persist:{ResultStatus.Succeeded}",
                $"emit:{IEventModule.WorkflowCompleted}",
            }));
            Assert.That(trained!.Auto!.Winner!.Trainer, Is.EqualTo("LightGbm"));
            Assert.That(result.Auto!.Leaderboard.Select(c => (c.Trainer, c.Score, c.Status)), Is.EqualTo(new[]
            {
                ("LightGbm", (double?)0.9, "completed"), ("FastTree", 0.8, "completed"), ("LbfgsLogisticRegression", 0.7, "completed"),
            }));
            Assert.That(result.Auto.ClassWeighting, Is.EqualTo("none"));
            await RecordedHistories.SaveIfRecordingAsync(handle, "ModelTrainingWorkflow.auto");
        });
    }

    [Test]
    public async Task RunAsync_WhenLowerIsBetterAndTheMetricAsksForBalance_PicksTheLowestAndWeightsClasses()
    {
        var stubs = new StubActivities();
        var plan = stubs.PlanAuto;
        stubs.PlanAuto = r => plan(r) with { Metric = new SelectionMetric("auc", HigherIsBetter: false, Balanced: true) };
        CandidateInput? evaluated = null;
        var evaluate = stubs.Evaluate;
        stubs.Evaluate = c =>
        {
            evaluated = c;
            return evaluate(c);
        };
        await WithWorkerAsync(stubs, async queue =>
        {
            var result = await Client.ExecuteWorkflowAsync((ModelTrainingWorkflow wf) => wf.RunAsync(Auto()), Start(queue, "auto"));

            Assert.That(result.Auto!.Winner!.Trainer, Is.EqualTo("LbfgsLogisticRegression"));
            Assert.That(result.Auto.Leaderboard.Select(c => c.ClassWeighting), Is.All.EqualTo("inverseFrequency"));
            Assert.That(evaluated!.ClassWeighting, Is.True);
        });
    }

    [Test]
    public async Task RunAsync_WithAParallelismOfTwo_NeverRunsMoreThanTwoCandidatesAtOnce()
    {
        var stubs = new StubActivities();
        var plan = stubs.PlanAuto;
        var six = Enumerable.Range(0, 6).Select(i => new TrainingCandidate($"T{i}", new Dictionary<string, double>()));
        stubs.PlanAuto = r => plan(r) with { Candidates = [.. six] };
        int running = 0, most = 0;
        stubs.Evaluate = async c =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            await Task.Delay(200);
            Interlocked.Decrement(ref running);
            return StubActivities.Scored(c, 0.5);
        };
        await WithWorkerAsync(stubs, async queue =>
        {
            var run = Auto(parallelism: 2);
            var result = await Client.ExecuteWorkflowAsync((ModelTrainingWorkflow wf) => wf.RunAsync(run), Start(queue, "auto"));

            Assert.That(result.Auto!.Leaderboard.Select(c => c.Status), Is.EqualTo(Enumerable.Repeat("completed", 6)));
            Assert.That(most, Is.EqualTo(2));
            Assert.That(result.Auto.Winner!.Trainer, Is.EqualTo("T0"), "equal scores: the earlier candidate wins");
        });
    }

    [Test]
    public async Task RunAsync_WhenTheBudgetRunsOut_CancelsTheRunningCandidateSkipsTheRestAndTrainsTheBestFinished()
    {
        var stubs = new StubActivities();
        var evaluate = stubs.Evaluate;
        var cancelled = new TaskCompletionSource();
        stubs.Evaluate = async c =>
        {
            if (c.Candidate.Trainer != "LightGbm")
            {
                return await evaluate(c);
            }

            // Runs until cancelled; the cancellation reaches an activity through its heartbeat.
            var context = ActivityExecutionContext.Current;
            try
            {
                while (true)
                {
                    context.Heartbeat();
                    await Task.Delay(50, context.CancellationToken);
                }
            }
            catch (OperationCanceledException)
            {
                cancelled.TrySetResult();
                throw;
            }
        };
        // The SDK sends heartbeats at most every 0.8 × the heartbeat timeout, and the cancellation rides on the answer.
        var run = Auto(budgetSeconds: 1, parallelism: 1);
        run = run with { Policy = run.Policy with { TimeoutSeconds = run.Policy.TimeoutSeconds with { TrainHeartbeat = 2 } } };
        await WithWorkerAsync(stubs, async queue =>
        {
            var result = await Client.ExecuteWorkflowAsync((ModelTrainingWorkflow wf) => wf.RunAsync(run), Start(queue, "auto"));

            Assert.That(result.Auto!.Leaderboard.Select(c => (c.Trainer, c.Status)), Is.EqualTo(new[]
            {
                ("FastTree", "completed"), ("LightGbm", "cancelled"), ("LbfgsLogisticRegression", "skipped"),
            }));
            Assert.That(result.Auto.Winner!.Trainer, Is.EqualTo("FastTree"));
            Assert.That(stubs.Calls, Does.Not.Contain("evaluate:LbfgsLogisticRegression").And.Contain("train_model"));
            await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        });
    }

    [Test]
    public async Task RunAsync_WhenNoCandidateFinishes_FailsNamingEachCandidateAndWhy()
    {
        var stubs = new StubActivities
        {
            Evaluate = c => throw StubActivities.InvalidInput("rows", $"{c.Candidate.Trainer} cannot fit these rows"),
        };
        await WithWorkerAsync(stubs, async queue =>
        {
            var error = await ThrowsAsync<WorkflowFailedException>(() => Client.ExecuteWorkflowAsync(
                (ModelTrainingWorkflow wf) => wf.RunAsync(Auto()),
                Start(queue, "auto")));

            var failure = (ApplicationFailureException)error.InnerException!;
            Assert.That(failure.ErrorType, Is.EqualTo(AutoTrainingSteps.NoCandidateFinished));
            Assert.That(failure.Message, Does.Contain("LightGbm failed (LightGbm cannot fit these rows)"));
            Assert.That(stubs.Calls.Count(c => c.StartsWith("evaluate:", StringComparison.Ordinal)), Is.EqualTo(3), "not retried");
            Assert.That(stubs.Calls, Does.Not.Contain("train_model"));
            Assert.That(stubs.Calls.TakeLast(2), Is.EqualTo(StubActivities.FailureClosing(ResultStatus.Failed)));
        });
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
