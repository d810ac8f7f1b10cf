using Dapper;
using Formanova.Modules.Data;
using Formanova.Modules.Data.Outcomes;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;
using Formanova.Tests.Support;

namespace Formanova.Tests.Data.Outcomes;

/// <summary>
/// The prediction log through <see cref="IDataModule"/> on each provider: the outcome summary against a hand
/// computation, all-or-nothing feedback, and the sweep.
/// </summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class PredictionLogTests(DatabaseProvider provider)
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private DataHarness _harness = null!;

    private IDataModule Data => _harness.Data;

    [SetUp]
    public async Task SetUp() => _harness = await DataHarness.CreateAsync(provider);

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    [Test]
    public async Task SummarizeOutcomesAsync_WhenFeedbackIsJoined_EqualsAHandComputation()
    {
        await Data.LogPredictionsAsync(
        [
            Binary("p1", "true", 2.0, 0.9, latency: 1),
            Binary("p2", "true", 0.5, 0.6, latency: 2),
            Binary("p3", "false", -1.0, 0.3, latency: 3),
            Binary("p4", "false", -0.2, 0.45, latency: 4),
            Binary("p5", null, null, null, latency: 5) with { ErrorKind = "unavailable", Probabilities = null },
            Binary("p6", "true", 1.0, 0.7, latency: 6) with { FallbackFrom = "0.9.0" },
            Binary("arm", "true", 1.0, 0.7, latency: 1) with { Experiment = "exp-1", Arm = "candidate" },
            Regression("r1", 10), Regression("r2", 20), Regression("r3", 30),
        ]);
        var stored = await Data.RecordFeedbackAsync(
        [
            Outcome("p1", "true"), Outcome("p2", "false"), Outcome("p3", "false"), Outcome("p4", "true"),
            Outcome("r1", value: 12), Outcome("r2", value: 17), Outcome("r3", value: 30),
        ]);
        Assert.That(stored.Select(s => s.Status), Is.All.EqualTo(FeedbackStatus.Recorded));

        var summary = await Data.SummarizeOutcomesAsync("m", Now.AddHours(-1), Now.AddHours(1));
        Assert.That(summary.Groups, Has.Count.EqualTo(2), "one group per version and experiment arm");
        var g = summary.Groups.Single(x => x.Experiment is null);
        var expectedLogLoss = -(Math.Log(0.9) + Math.Log(0.4) + Math.Log(0.7) + Math.Log(0.45)) / 4;
        Assert.Multiple(() =>
        {
            Assert.That(g.Version, Is.EqualTo("1.0.0"));
            Assert.That(g.Count, Is.EqualTo(6));
            Assert.That(g.WithFeedback, Is.EqualTo(4));
            Assert.That(g.ErrorRate, Is.EqualTo(1 / 6.0).Within(1e-12));
            Assert.That(g.FallbackRate, Is.EqualTo(1 / 6.0).Within(1e-12));
            Assert.That(g.P95LatencyMs, Is.EqualTo(6), "the ceil(0.95 n)-th smallest of 1..6");
            Assert.That(g.Accuracy, Is.EqualTo(0.5));
            Assert.That(g.LogLoss, Is.EqualTo(expectedLogLoss).Within(1e-12));
            // Positives (true) scored 2.0 and -0.2, negatives 0.5 and -1.0: 3 of the 4 pairs are ordered right.
            Assert.That(g.Auc, Is.EqualTo(0.75).Within(1e-12));
            Assert.That(g.AucSampleRows, Is.EqualTo(4));
            Assert.That((g.AucPositives, g.AucNegatives), Is.EqualTo(((long?)2, (long?)2)), "p1 and p4 were true, p2 and p3 false");
            Assert.That(g.Correct, Is.EqualTo(new LossStatistics(4, 2, 2)));
            Assert.That(g.LogLossStatistics!.N, Is.EqualTo(4));
            Assert.That(g.LogLossStatistics.Sum, Is.EqualTo(expectedLogLoss * 4).Within(1e-12));
            Assert.That(
                g.LogLossStatistics.SumOfSquares,
                Is.EqualTo(new[] { 0.9, 0.4, 0.7, 0.45 }.Sum(p => Math.Log(p) * Math.Log(p))).Within(1e-12));
            Assert.That(g.Rmse, Is.Null);
            Assert.That(summary.Groups.Single(x => x.Experiment is not null).Arm, Is.EqualTo("candidate"));
        });

        var r = (await Data.SummarizeOutcomesAsync("r", Now.AddHours(-1), Now.AddHours(1))).Groups.Single();
        Assert.Multiple(() =>
        {
            // Errors 2, 3 and 0.
            Assert.That(r.Mae, Is.EqualTo(5 / 3.0).Within(1e-12));
            Assert.That(r.Rmse, Is.EqualTo(Math.Sqrt(13 / 3.0)).Within(1e-12));
            Assert.That(r.SquaredError, Is.EqualTo(new LossStatistics(3, 13, 97)));
            Assert.That(r.AbsoluteError, Is.EqualTo(new LossStatistics(3, 5, 13)));
            Assert.That(r.Accuracy, Is.Null);
            Assert.That(r.Auc, Is.Null);
        });
    }

    [Test]
    public async Task RecordFeedbackAsync_OnAServedPrediction_ScoresItsShadowCopiesEachOnItsOwnAnswer()
    {
        var entity = $"customer-{Guid.NewGuid():N}";
        await Data.LogPredictionsAsync(
        [
            Binary("served", "true", 1.0, 0.8, latency: 1) with { Experiment = "exp", Arm = "control", EntityId = entity },
            Binary("shadow", "false", -1.0, 0.3, latency: 2) with
            {
                Version = "1.1.0",
                Experiment = "exp",
                Arm = "candidate",
                EntityId = entity,
                PredictedAt = Now.AddSeconds(1),
                ServedPredictionId = "served",
            },
        ]);

        var byEntity = await Data.RecordFeedbackAsync([new FeedbackItem(null, "m", entity, null, "true", null)]);
        var summary = await Data.SummarizeOutcomesAsync("m", Now.AddHours(-1), Now.AddHours(1));

        var shadow = summary.Groups.Single(g => g.Arm == "candidate");
        var served = summary.Groups.Single(g => g.Arm == "control");
        Assert.Multiple(() =>
        {
            Assert.That(byEntity.Single().PredictionId, Is.EqualTo("served"), "an entity's latest answer is the served one, not its copy");
            Assert.That((served.WithFeedback, served.Accuracy), Is.EqualTo((1L, (double?)1)));
            Assert.That((shadow.Version, shadow.WithFeedback, shadow.Accuracy), Is.EqualTo(("1.1.0", 1L, (double?)0)));
            Assert.That(shadow.LogLoss, Is.EqualTo(-Math.Log(0.3)).Within(1e-12));
        });
    }

    [Test]
    public async Task SummarizeOutcomesAsync_WhenOutsideTheWindow_LeavesPredictionsOut()
    {
        await Data.LogPredictionsAsync(
            [Binary("old", "true", 1, 0.7, 1) with { PredictedAt = Now.AddDays(-2) }, Binary("new", "true", 1, 0.7, 1)]);

        var summary = await Data.SummarizeOutcomesAsync("m", Now.AddDays(-1), Now.AddHours(1));

        Assert.That(summary.Groups.Single().Count, Is.EqualTo(1));
    }

    [Test]
    public async Task RecordFeedbackAsync_WhenAnItemConflicts_StoresNothing()
    {
        await Data.LogPredictionsAsync([Binary("a", "true", 1, 0.7, 1), Binary("b", "true", 1, 0.7, 1)]);
        await Data.RecordFeedbackAsync([Outcome("a", "true")]);

        var ex = Assert.ThrowsAsync<ModuleException>(() => Data.RecordFeedbackAsync([Outcome("b", "true"), Outcome("a", "false")]));

        Assert.That(ex!.Kind, Is.EqualTo(ErrorKind.Conflict));
        Assert.That(ex.Errors.Keys, Is.EquivalentTo(new[] { "items[1].outcome" }));
        var again = await Data.RecordFeedbackAsync([Outcome("b", "true")]);
        Assert.That(again.Single().Status, Is.EqualTo(FeedbackStatus.Recorded), "b was not stored by the refused request");
    }

    [Test]
    public async Task SweepPredictionLogAsync_WhenRowsAreOldOrOverTheCap_DeletesTheOldest()
    {
        var rows = Enumerable.Range(0, 10)
            .Select(i => Binary($"s{i}", "true", 1, 0.7, 1) with { PredictedAt = i < 3 ? Now.AddDays(-40) : Now.AddMinutes(i) })
            .ToList();
        await Data.LogPredictionsAsync(rows);

        var deleted = await Data.SweepPredictionLogAsync(Now.AddDays(-30), maxRows: 5);

        Assert.That(deleted, Is.EqualTo(5), "3 by age, then 2 over the cap");
        Assert.That(await Data.CountLoggedPredictionsAsync(), Is.EqualTo(5));
        var kept = await Data.RecordFeedbackAsync([.. Enumerable.Range(0, 10).Select(i => Outcome($"s{i}", "true"))]);
        Assert.That(
            kept.Where(k => k.Status == FeedbackStatus.Recorded).Select(k => k.PredictionId),
            Is.EqualTo(new[] { "s5", "s6", "s7", "s8", "s9" }));
    }

    [TestCase("entity")]
    [TestCase("served")]
    public async Task FeedbackLookups_WhenTheirIndexHoldsOnlyNonNullKeys_StillUseIt(string key)
    {
        var query = key == "entity" ? PredictionLog.ByEntity : PredictionLog.Shadows;
        var index = $"ix_data_prediction_log_{key}";
        await Data.LogPredictionsAsync([Binary("p1", "true", 1, 0.7, 1) with { EntityId = "e-1" }]);
        var parameters = new { Model = "m", EntityId = "e-1", At = Now, Id = "p1" };
        await using var connection = await _harness.Database.Database.OpenConnectionAsync(CancellationToken.None);

        string plan;
        if (provider == DatabaseProvider.Postgres)
        {
            // On a near-empty table a sequential scan is cheapest: rule it out, so the plan shows which index can serve.
            await connection.ExecuteAsync("SET enable_seqscan = off");
            plan = string.Join("\n", await connection.QueryAsync<string>("EXPLAIN " + query, parameters));
        }
        else
        {
            var rows = await connection.QueryAsync("EXPLAIN QUERY PLAN " + query, parameters);
            plan = string.Join("\n", rows.Select(row => (string)((IDictionary<string, object>)row)["detail"]));
        }

        Assert.That(plan, Does.Contain(index));
    }

    [Test]
    public async Task LogPredictionsAsync_WhenAnIdIsLoggedAgain_KeepsOneRow()
    {
        await Data.LogPredictionsAsync([Binary("x", "true", 1, 0.7, 1)]);

        var written = await Data.LogPredictionsAsync([Binary("x", "false", -1, 0.2, 1), Binary("y", "true", 1, 0.7, 1)]);

        Assert.That(written, Is.EqualTo(1));
        Assert.That(await Data.CountLoggedPredictionsAsync(), Is.EqualTo(2));
    }

    private static LoggedPrediction Binary(string id, string? label, double? score, double? pTrue, double latency) =>
        new(
            id,
            "m",
            "1.0.0",
            OutcomeTask.BinaryClassification,
            Now,
            label,
            null,
            score,
            pTrue is { } p ? new Dictionary<string, double> { ["true"] = p, ["false"] = 1 - p } : null,
            latency,
            false);

    private static LoggedPrediction Regression(string id, double value) =>
        new(id, "r", "2.0.0", OutcomeTask.Regression, Now, null, value, null, null, 1, false);

    private static FeedbackItem Outcome(string id, string? label = null, double? value = null) => new(id, null, null, null, label, value);
}
