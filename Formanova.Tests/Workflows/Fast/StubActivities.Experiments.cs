using System.Collections.Concurrent;
using Formanova.Host.Workflows.Experiments;
using Formanova.Host.Workflows.Experiments.Statistics;
using Temporalio.Activities;

namespace Formanova.Tests.Workflows.Fast;

/// <summary>The experiment workflow's activities: a plan and looks from delegates, and the store changes recorded.</summary>
internal sealed partial class StubActivities
{
    public Func<string, ExperimentPlan> ExperimentPlan { get; set; } = name => ExperimentStubs.Plan(name);

    /// <summary>The look for the n-th evaluation (0-based); a continuing look by default.</summary>
    public Func<EvaluateInput, int, ExperimentLook> Look { get; set; } = (_, _) => ExperimentStubs.Look(LookVerdict.Continue, null);

    public ConcurrentQueue<EvaluateInput> Evaluations { get; } = new();

    public ConcurrentQueue<Dictionary<string, double>> Weights { get; } = new();

    [Activity("read_experiment")]
    public Task<ExperimentPlan> ReadExperimentAsync(string name) => Call("read_experiment", () => ExperimentPlan(name));

    [Activity("evaluate_experiment")]
    public Task<ExperimentLook> EvaluateExperimentAsync(EvaluateInput input)
    {
        var index = Evaluations.Count;
        Evaluations.Enqueue(input);
        return Call("evaluate_experiment", () => Look(input, index));
    }

    [Activity("set_experiment_weights")]
    public Task<bool> SetExperimentWeightsAsync(string name, Dictionary<string, double> weights)
    {
        Weights.Enqueue(weights);
        return Call($"weights:{string.Join(",", weights.Select(w => $"{w.Key}={w.Value}"))}", () => true);
    }

    [Activity("set_experiment_status")]
    public Task<string> SetExperimentStatusAsync(StatusChange change) =>
        Call($"status:{change.Status}{(change.Winner is null ? "" : $":{change.Winner}")}", () => change.Status);

    [Activity("emit_experiment_event")]
    public Task<long> EmitExperimentEventAsync(ExperimentEvent change) => Call($"emit:{change.Type}", () => 1L);
}

internal static class ExperimentStubs
{
    public static ExperimentPlan Plan(string name, TimeSpan? interval = null, List<double>? canary = null) => new(
        name,
        "churn",
        canary is null ? "Split" : "Canary",
        "control",
        ["candidate"],
        new() { ["control"] = "1.0.0", ["candidate"] = "1.1.0" },
        interval ?? TimeSpan.FromMilliseconds(200),
        null,
        canary ?? [],
        canary is null ? null : TimeSpan.FromMilliseconds(100),
        true,
        "Running",
        DateTimeOffset.UtcNow);

    /// <summary>A look with the given verdict; the candidate's p-value is <paramref name="pValue"/> when given.</summary>
    public static ExperimentLook Look(LookVerdict verdict, string? arm, double pValue = 0.5) => new(
        DateTimeOffset.UtcNow,
        DateTimeOffset.UtcNow.AddMinutes(-5),
        "Running",
        0.05,
        [
            new("control", "1.0.0", true, 1, 200, 150, 0, 0, 12, 0.7, 0.65, 0.75),
            new("candidate", "1.1.0", false, 1, 200, 150, 0, 0, 12, 0.8, 0.75, 0.85),
        ],
        [new("candidate", new(0.1, 0.001, 0.002, 3, pValue, 0.02, 0.18, pValue <= 0.05, Favours.None))],
        verdict,
        arm,
        verdict.ToString());
}
