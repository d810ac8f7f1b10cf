using Formanova.Host.Workflows.Common;
using Formanova.Modules.Model;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Training;

/// <summary>
/// The search of a <c>trainer: "auto"</c> run (docs/workflows.md, "Automatic training"), called from
/// <see cref="ModelTrainingWorkflow"/>: plan the candidates, evaluate them as activities at most
/// <see cref="TrainingRunInput.AutoParallelism"/> at a time under a durable timer that is the time budget, and rank
/// them. Each finished candidate is in the history, so a restarted worker replays it instead of fitting it again.
/// </summary>
internal static class AutoTrainingSteps
{
    /// <summary>The failure type of a search in which no candidate finished with a score.</summary>
    public const string NoCandidateFinished = "NoCandidateFinished";

    /// <summary>The most a request may set as timeBudgetSeconds: the train step's own default timeout (4 h).</summary>
    public const double MaxTimeBudgetSeconds = 14_400;

    public static bool IsAuto(TrainingRunInput run) => IsAuto(run.Trainer);

    public static bool IsAuto(string? trainer) => string.Equals(trainer?.Trim(), "auto", StringComparison.OrdinalIgnoreCase);

    public static async Task<AutoTrainingSummary> SweepAsync(
        TrainingRunInput run,
        PreparedTraining prepared,
        Action<AutoTrainingSummary> report)
    {
        var plan = await Workflow.ExecuteActivityAsync(
            (AutoTrainingActivities a) => a.PlanAutoTraining(run),
            run.Policy.For(t => t.Validate));
        var board = new Board(plan, run.TimeBudgetSeconds ?? MaxTimeBudgetSeconds, Math.Max(1, run.AutoParallelism));
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(Workflow.CancellationToken);
        using var clock = CancellationTokenSource.CreateLinkedTokenSource(Workflow.CancellationToken);
        var expiry = Workflow.DelayAsync(TimeSpan.FromSeconds(board.Summary.TimeBudgetSeconds), clock.Token);
        var running = new Dictionary<Task<CandidateEvaluation>, int>();
        var next = 0;
        var expired = false;
        while (true)
        {
            while (!expired && next < plan.Candidates.Count && running.Count < board.Summary.Parallelism)
            {
                running[EvaluateAsync(run, prepared, plan, next, board.Summary.Parallelism, budget.Token)] = next;
                board.Start(next++);
            }

            report(board.Snapshot());
            if (running.Count == 0)
            {
                break;
            }

            IEnumerable<Task> waiting = expired ? running.Keys : running.Keys.Append<Task>(expiry);
            var done = await Workflow.WhenAnyAsync(waiting);
            if (done == expiry)
            {
                // The run's own cancellation also ends the timer: rethrow that. Otherwise the budget is spent.
                await expiry;
                expired = true;
                budget.Cancel();
                continue;
            }

            var finished = (Task<CandidateEvaluation>)done;
            var index = running[finished];
            running.Remove(finished);
            await board.CollectAsync(index, finished, expired);
        }

        clock.Cancel();
        board.SkipFrom(next);
        var summary = board.Ranked();
        report(summary);
        if (summary.Winner is null)
        {
            var why = summary.Leaderboard.Select(c => c.Error is null ? $"{c.Trainer} {c.Status}" : $"{c.Trainer} {c.Status} ({c.Error})");
            throw new ApplicationFailureException(
                $"No candidate finished with a {plan.Metric.Name} score within the time budget of {summary.TimeBudgetSeconds} s: "
                    + string.Join("; ", why),
                NoCandidateFinished,
                nonRetryable: true);
        }

        return summary;
    }

    private static Task<CandidateEvaluation> EvaluateAsync(
        TrainingRunInput run,
        PreparedTraining prepared,
        AutoTrainingPlan plan,
        int index,
        int parallelism,
        CancellationToken budget)
    {
        var input = new CandidateInput(run, prepared, plan.Candidates[index], plan.Metric.Name, plan.Metric.Balanced, parallelism);
        return Workflow.ExecuteActivityAsync(
            (AutoTrainingActivities a) => a.EvaluateCandidateAsync(input),
            run.Policy.For(
                t => t.Train,
                budget,
                maximumAttempts: run.TrainMaximumAttempts,
                heartbeat: run.Policy.Timeout(t => t.TrainHeartbeat)));
    }

    /// <summary>The leaderboard as the search fills it in, in plan order; workflow time only, so it replays the same.</summary>
    private sealed class Board(AutoTrainingPlan plan, double budgetSeconds, int parallelism)
    {
        private readonly CandidateScore[] _scores = [.. plan.Candidates.Select(c => Pending(plan, c))];
        private readonly DateTime[] _started = new DateTime[plan.Candidates.Count];

        public AutoTrainingSummary Summary { get; } = new(
            plan.Metric.Name,
            plan.Metric.HigherIsBetter,
            Weighting(plan),
            budgetSeconds,
            parallelism,
            null,
            []);

        public AutoTrainingSummary Snapshot() => Summary with { Leaderboard = [.. _scores] };

        public void Start(int index)
        {
            _started[index] = Workflow.UtcNow;
            _scores[index] = _scores[index] with { Status = "running" };
        }

        public async Task CollectAsync(int index, Task<CandidateEvaluation> finished, bool expired)
        {
            try
            {
                var evaluation = await finished;
                _scores[index] = _scores[index] with
                {
                    Score = evaluation.Score,
                    Seconds = Math.Round(evaluation.Seconds, 3),
                    Status = "completed",
                    Error = evaluation.Score is null ? $"{plan.Metric.Name} was not measured for this trainer." : null,
                };
            }
            catch (Exception ex) when (RunFailure.ClosesRun(ex) && !Workflow.CancellationToken.IsCancellationRequested)
            {
                var cancelled = expired && TemporalException.IsCanceledException(ex);
                _scores[index] = _scores[index] with
                {
                    Seconds = Math.Round((Workflow.UtcNow - _started[index]).TotalSeconds, 3),
                    Status = cancelled ? "cancelled" : "failed",
                    Error = cancelled ? $"Still running when the time budget of {budgetSeconds} s ran out." : ActivityErrors.Describe(ex),
                };
            }
        }

        public void SkipFrom(int index)
        {
            for (var i = index; i < _scores.Length; i++)
            {
                _scores[i] = _scores[i] with { Status = "skipped", Error = $"Not started within the time budget of {budgetSeconds} s." };
            }
        }

        /// <summary>Scored candidates best first (ties keep plan order), then the rest in plan order.</summary>
        public AutoTrainingSummary Ranked()
        {
            var scored = _scores.Where(s => s.Score is not null);
            var ranked = plan.Metric.HigherIsBetter
                ? scored.OrderByDescending(s => s.Score!.Value)
                : scored.OrderBy(s => s.Score!.Value);
            List<CandidateScore> leaderboard = [.. ranked, .. _scores.Where(s => s.Score is null)];
            return Summary with { Winner = leaderboard.FirstOrDefault(s => s.Score is not null), Leaderboard = leaderboard };
        }

        private static string Weighting(AutoTrainingPlan plan) =>
            plan.Metric.Balanced && plan.Task != ModelTask.Regression ? "inverseFrequency" : "none";

        private static CandidateScore Pending(AutoTrainingPlan plan, TrainingCandidate candidate) =>
            new(candidate.Trainer, candidate.Hyperparameters, plan.Metric.Name, null, 0, "pending", Weighting(plan));
    }
}
