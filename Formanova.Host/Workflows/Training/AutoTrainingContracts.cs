using Formanova.Modules.Model;

namespace Formanova.Host.Workflows.Training;

/// <summary>
/// One candidate of a <c>trainer: "auto"</c> run, fitted and scored by its own activity. <see cref="Parallelism"/> is how
/// many candidates run side by side, so each caps its threads to its share of the cores.
/// </summary>
public sealed record CandidateInput(
    TrainingRunInput Run,
    PreparedTraining Prepared,
    TrainingCandidate Candidate,
    string Metric,
    bool ClassWeighting,
    int Parallelism);

/// <summary>
/// The search of a <c>trainer: "auto"</c> run: the metric it ranked by (and whether higher is better), the class weighting
/// that metric asked for, the budget and parallelism, the winner and the leaderboard (every candidate, best first once
/// the search is over; while it runs, in plan order with statuses pending and running).
/// </summary>
public sealed record AutoTrainingSummary(
    string Metric,
    bool HigherIsBetter,
    string ClassWeighting,
    double TimeBudgetSeconds,
    int Parallelism,
    CandidateScore? Winner,
    List<CandidateScore> Leaderboard);
