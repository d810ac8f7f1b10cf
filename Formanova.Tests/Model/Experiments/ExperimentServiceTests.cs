using Formanova.Modules.Model;
using Formanova.Modules.Model.Inference;
using Formanova.Modules.Model.Preloading;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Model.Experiments;

/// <summary>
/// The experiment store through <see cref="IExperimentModule"/> on the real host and each provider: a created
/// experiment round-trips with its arms pinned and loaded, every refusal names its field, conflicts, the status
/// transitions, and a second host on the same database sees what the first wrote.
/// </summary>
[Category("Integration")]
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class ExperimentServiceTests(DatabaseProvider provider)
{
    private const string Model = "churn";

    private TestDatabase _db = null!;
    private FormanovaFactory _host = null!;

    private IExperimentModule Experiments => _host.Services.GetRequiredService<IExperimentModule>();

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _db = await TestDatabase.CreateAsync(provider);
        _host = ExperimentHost.Start(_db);
        await ExperimentHost.TrainAsync(_host, Model, "1.0.0", "1.1.0", "1.2.0", "1.3.0");
        var module = _host.Services.GetRequiredService<IModelModule>();
        await module.SetAliasAsync(Model, "challenger", "1.2.0");
        await module.MarkFailedAsync(Model, "1.3.0", "broken on purpose");
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _db.DisposeAsync();
    }

    // Every test leaves the model without a live experiment, so the next can start one.
    [TearDown]
    public async Task EndLiveExperimentAsync()
    {
        var all = await Experiments.ListAsync(Model);
        foreach (var live in all.Where(e => e.Status is ExperimentStatus.Running or ExperimentStatus.Paused))
        {
            await Experiments.SetStatusAsync(live.Name, ExperimentStatus.Stopped, reason: "test over");
        }
    }

    [Test]
    public async Task CreateAsync_WithValidArms_StoresThemPinnedAndLoadsEveryArm()
    {
        var runtime = _host.Services.GetRequiredService<ModelRuntime>();
        runtime.Unload(Model, "1.2.0");
        var request = ExperimentHost.Request("round-trip", Model, new("control", Weight: 3), new("challenger", Alias: "challenger")) with
        {
            Assignment = ExperimentAssignment.Random,
            PrimaryMetric = ExperimentMetric.Auc,
            Alpha = 0.01,
        };

        var created = await Experiments.CreateAsync(request);
        var loaded = runtime.IsLoaded(Model, "1.2.0");
        var read = await Experiments.GetAsync("ROUND-TRIP");
        var listed = await Experiments.ListAsync(Model);

        Assert.Multiple(() =>
        {
            Assert.That(created.Arms, Is.EqualTo(new[]
            {
                new ExperimentArm("control", "1.0.0", null, 3, true),
                new ExperimentArm("challenger", "1.2.0", "challenger", 1, false),
            }));
            Assert.That(created.Status, Is.EqualTo(ExperimentStatus.Running));
            Assert.That(created.EvaluationInterval, Is.EqualTo(TimeSpan.FromMinutes(1)), "the default interval");
            Assert.That(loaded, Is.True, "the arms are loaded before CreateAsync returns");
            Assert.That(
                read with { Arms = created.Arms, Guards = created.Guards },
                Is.EqualTo(created with { CreatedAt = read.CreatedAt, UpdatedAt = read.UpdatedAt }));
            Assert.That(read.Arms, Is.EqualTo(created.Arms));
            Assert.That(read.Guards, Is.EqualTo(created.Guards));
            Assert.That(read.CreatedAt, Is.EqualTo(created.CreatedAt).Within(TimeSpan.FromMilliseconds(1)));
            Assert.That(listed.Select(e => e.Name), Does.Contain("round-trip"));
        });
    }

    private static IEnumerable<TestCaseData> Refusals()
    {
        static CreateExperimentRequest Valid(params ExperimentArmSpec[] arms) => ExperimentHost.Request("refused", Model, arms);

        yield return Case("name", Valid() with { Name = "Not a name!" });
        yield return Case("model", Valid() with { Model = "no-such-model" });
        yield return Case("arms", Valid(new ExperimentArmSpec("only", "1.0.0")));
        yield return Case("arms", Valid([.. Enumerable.Range(0, 9).Select(i => new ExperimentArmSpec($"a{i}", "1.0.0"))]));
        yield return Case("arms[1].weight", Valid(new("control", "1.0.0"), new("candidate", "1.1.0", Weight: -1)));
        yield return Case("arms[0].weight", Valid(new("control", "1.0.0", Weight: double.NaN), new("candidate", "1.1.0")));
        yield return Case("arms", Valid(new("control", "1.0.0", Weight: 0), new("candidate", "1.1.0", Weight: 0)));
        yield return Case("arms[1].name", Valid(new("same", "1.0.0"), new("same", "1.1.0")));
        yield return Case("arms[0].version", Valid(new("control", "9.9.9"), new("candidate", "1.1.0")));
        yield return Case("arms[1].alias", Valid(new("control", "1.0.0"), new("candidate", Alias: "nobody")));
        yield return Case("arms[1].alias", Valid(new("control", "1.0.0"), new("candidate", "1.1.0", "challenger")));
        yield return Case("arms[1].version", Valid(new("control", "1.0.0"), new("candidate", "1.3.0")));
        yield return Case("arms[1].version", Valid(new("control"), new("candidate", "1.0.0")));
        yield return Case("alpha", Valid() with { Alpha = 0.6 });
        yield return Case("alpha", Valid() with { Alpha = 0 });
        yield return Case("minSamplesPerArm", Valid() with { MinSamplesPerArm = 9 });
        yield return Case("evaluationInterval", Valid() with { EvaluationInterval = TimeSpan.FromMilliseconds(500) });
        yield return Case("primaryMetric", Valid() with { PrimaryMetric = ExperimentMetric.Rmse });
        yield return Case("guards.maxErrorRate", Valid() with { Guards = new ExperimentGuards(MaxErrorRate: 1.5) });
        yield return Case("canary", Valid() with { Mode = ExperimentMode.Canary });
        yield return Case("canary", Valid() with { Canary = new CanaryPlan([0.5], TimeSpan.FromMinutes(1)) });
        yield return Case("canary.steps[2]", Valid() with
        {
            Mode = ExperimentMode.Canary,
            Canary = new CanaryPlan([0.05, 0.25, 0.25], TimeSpan.FromMinutes(1)),
        });
        yield return Case("canary.steps[0]", Valid() with
        {
            Mode = ExperimentMode.Canary,
            Canary = new CanaryPlan([0, 0.5], TimeSpan.FromMinutes(1)),
        });
        yield return Case("arms", Valid(new("control", "1.0.0"), new("b", "1.1.0"), new("c", "1.2.0")) with
        {
            Mode = ExperimentMode.Canary,
            Canary = new CanaryPlan([0.1, 1], TimeSpan.FromMinutes(1)),
        });

        static TestCaseData Case(string field, CreateExperimentRequest request) =>
            new TestCaseData(request, field).SetArgDisplayNames(field);
    }

    [TestCaseSource(nameof(Refusals))]
    public async Task CreateAsync_WhenAFieldIsInvalid_IsInvalidNamingIt(CreateExperimentRequest request, string field)
    {
        var refused = Assert.ThrowsAsync<ModuleException>(() => Experiments.CreateAsync(request));

        Assert.That(refused!.Kind, Is.EqualTo(ErrorKind.Invalid), refused.Message);
        Assert.That(refused.Errors.Keys, Is.EqualTo(new[] { field }), refused.Message);
        Assert.That(await Experiments.ListAsync(Model), Has.None.Matches<ExperimentInfo>(e => e.Name == "refused"), "nothing stored");
    }

    [Test]
    public async Task CreateAsync_WhenTheNameExistsOrTheModelHasALiveExperiment_IsConflict()
    {
        await Experiments.CreateAsync(ExperimentHost.Request("first", Model));
        var sameModel = Assert.ThrowsAsync<ModuleException>(() => Experiments.CreateAsync(ExperimentHost.Request("second", Model)));
        await Experiments.SetStatusAsync("first", ExperimentStatus.Paused, reason: "looking");
        var whilePaused = Assert.ThrowsAsync<ModuleException>(() => Experiments.CreateAsync(ExperimentHost.Request("second", Model)));
        await Experiments.SetStatusAsync("first", ExperimentStatus.Stopped);
        var sameName = Assert.ThrowsAsync<ModuleException>(() => Experiments.CreateAsync(ExperimentHost.Request("first", Model)));
        var afterwards = await Experiments.CreateAsync(ExperimentHost.Request("second", Model));

        Assert.Multiple(() =>
        {
            Assert.That(sameModel!.Kind, Is.EqualTo(ErrorKind.Conflict));
            Assert.That(whilePaused!.Kind, Is.EqualTo(ErrorKind.Conflict), "a paused experiment is live too");
            Assert.That(sameName!.Kind, Is.EqualTo(ErrorKind.Conflict), "names are never reused");
            Assert.That(afterwards.Status, Is.EqualTo(ExperimentStatus.Running), "an ended experiment frees its model");
        });
    }

    [Test]
    public async Task SetWeightsAndStatus_FollowTheTransitionsAndRefuseOnceEnded()
    {
        await Experiments.CreateAsync(ExperimentHost.Request("moves", Model));

        var weighted = await Experiments.SetWeightsAsync("moves", new Dictionary<string, double> { ["candidate"] = 4 });
        var unknownArm = Assert.ThrowsAsync<ModuleException>(() =>
            Experiments.SetWeightsAsync("moves", new Dictionary<string, double> { ["nobody"] = 1 }));
        var allZero = Assert.ThrowsAsync<ModuleException>(() =>
            Experiments.SetWeightsAsync("moves", new Dictionary<string, double> { ["control"] = 0, ["candidate"] = 0 }));
        var paused = await Experiments.SetStatusAsync("moves", ExperimentStatus.Paused, reason: "guard breached");
        var resumed = await Experiments.SetStatusAsync("moves", ExperimentStatus.Running);
        var noWinner = Assert.ThrowsAsync<ModuleException>(() => Experiments.SetStatusAsync("moves", ExperimentStatus.Decided));
        var decided = await Experiments.SetStatusAsync("moves", ExperimentStatus.Decided, "candidate", "candidate better");
        var reweighEnded = Assert.ThrowsAsync<ModuleException>(() =>
            Experiments.SetWeightsAsync("moves", new Dictionary<string, double> { ["candidate"] = 1 }));
        var resumeEnded = Assert.ThrowsAsync<ModuleException>(() => Experiments.SetStatusAsync("moves", ExperimentStatus.Running));

        Assert.Multiple(() =>
        {
            Assert.That(weighted.Arms.Select(a => a.Weight), Is.EqualTo(new[] { 1.0, 4.0 }), "arms not named keep their weight");
            Assert.That(unknownArm!.Errors.Keys, Is.EqualTo(new[] { "weights.nobody" }));
            Assert.That(allZero!.Errors.Keys, Is.EqualTo(new[] { "weights" }));
            Assert.That((paused.Status, paused.Reason), Is.EqualTo((ExperimentStatus.Paused, "guard breached")));
            Assert.That(paused.EndedAt, Is.Null);
            Assert.That(resumed.Status, Is.EqualTo(ExperimentStatus.Running));
            Assert.That(noWinner!.Errors.Keys, Is.EqualTo(new[] { "winner" }));
            Assert.That((decided.Status, decided.Winner), Is.EqualTo((ExperimentStatus.Decided, "candidate")));
            Assert.That(decided.EndedAt, Is.Not.Null);
            Assert.That(reweighEnded!.Kind, Is.EqualTo(ErrorKind.Conflict));
            Assert.That(resumeEnded!.Kind, Is.EqualTo(ErrorKind.Conflict));
        });
    }

    [Test]
    public async Task GetAsync_OnAnotherHostOfTheSameDatabase_SeesTheExperimentAndItsWeights()
    {
        var canary = ExperimentHost.Request("restart", Model) with
        {
            Mode = ExperimentMode.Canary,
            Canary = new CanaryPlan([0.1, 0.5, 1], TimeSpan.FromMinutes(5)),
        };
        var created = await Experiments.CreateAsync(canary);
        var halves = new Dictionary<string, double> { ["control"] = 0.5, ["candidate"] = 0.5 };
        var stepped = await Experiments.SetWeightsAsync("restart", halves);

        await using var second = ExperimentHost.Start(_db, ("Model:Preload:MaxVersions", "3"));
        var seen = await second.Services.GetRequiredService<IExperimentModule>().GetAsync("restart");
        await second.Services.GetRequiredService<ModelPreloader>().Completed;
        var preloaded = second.Services.GetRequiredService<ModelRuntime>().IsLoaded(Model, "1.1.0");

        Assert.Multiple(() =>
        {
            Assert.That(created.Arms.Select(a => a.Weight), Is.EqualTo(new[] { 0.9, 0.1 }), "a canary starts at its first step");
            Assert.That(seen.Arms, Is.EqualTo(stepped.Arms));
            Assert.That(seen.Canary!.Steps, Is.EqualTo(new[] { 0.1, 0.5, 1 }));
            Assert.That((seen.Mode, seen.Status), Is.EqualTo((ExperimentMode.Canary, ExperimentStatus.Running)));
            Assert.That(preloaded, Is.True, "preloaded after the active and aliased versions (3 slots), before recent traffic");
        });
    }
}
