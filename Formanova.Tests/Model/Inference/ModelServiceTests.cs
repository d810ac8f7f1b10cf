using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Model.Inference;

/// <summary>The module through its public interface, in the real host, on both database providers.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class ModelServiceTests(DatabaseProvider provider)
{
    private TestDatabase? _db;
    private FormanovaFactory? _factory;
    private IModelModule _models = null!;

    [SetUp]
    public async Task SetUp()
    {
        _db = await TestDatabase.CreateAsync(provider);
        _factory = new FormanovaFactory(_db.Settings.Append(new("Model:Bootstrap:Enabled", "false")));
        _models = _factory.Services.GetRequiredService<IModelModule>();
        await _factory.Services.GetRequiredService<ModelBootstrapper>().Completed;
    }

    [TearDown]
    public async Task TearDown()
    {
        _factory?.Dispose();
        if (_db is not null)
        {
            await _db.DisposeAsync();
        }
    }

    private Task<TrainingResult> TrainAsync(string version, int seed, bool activate = false) =>
        _models.TrainAsync(
            ModelTestKit.Request("churn", version, seed: seed, activate: activate),
            SampleData.RowsAsync(ModelTestKit.Binary, 600, seed));

    [Test]
    public async Task TrainAsync_WithActivate_RegistersAndServesTheVersion()
    {
        var trained = await TrainAsync("1.0.0", 1, activate: true);

        var prediction = await _models.PredictAsync(new PredictRequest("churn", ModelTestKit.Input(5)));

        Assert.Multiple(() =>
        {
            Assert.That(trained.Version.Status, Is.EqualTo(ModelVersionStatus.Active));
            Assert.That(trained.Version.Metrics, Contains.Key("auc"));
            Assert.That(prediction.Version, Is.EqualTo("1.0.0"));
            Assert.That(prediction.Label, Is.EqualTo("true").Or.EqualTo("false"));
            Assert.That(prediction.Probabilities!["true"] + prediction.Probabilities["false"], Is.EqualTo(1).Within(1e-6));
            Assert.That(prediction.Cached, Is.False);
        });
    }

    [Test]
    public async Task PredictAsync_WhileSwitchingConcurrently_NeverFailsAndEachResultMatchesItsVersion()
    {
        await TrainAsync("1.0.0", 1, activate: true);
        await TrainAsync("2.0.0", 2);
        var inputs = Enumerable.Range(0, 20).Select(i => ModelTestKit.Input(9, i)).ToList();
        var expected = new Dictionary<(string, int), double?>();
        foreach (var version in new[] { "1.0.0", "2.0.0" })
        {
            for (var i = 0; i < inputs.Count; i++)
            {
                expected[(version, i)] = (await _models.PredictAsync(
                    new PredictRequest("churn", inputs[i], Version: version, UseCache: false))).Score;
            }
        }

        // The switcher waits for answers between switches: left free, it can finish all 30 switches before a worker's
        // first prediction, and then only the last version is ever seen.
        using var stop = new CancellationTokenSource();
        using var answered = new SemaphoreSlim(0);
        const int Workers = 4;
        var switcher = Task.Run(async () =>
        {
            try
            {
                await SwitchAsync();
            }
            finally
            {
                await stop.CancelAsync();
            }
        });

        async Task SwitchAsync()
        {
            for (var n = 0; n < 30; n++)
            {
                await _models.ActivateAsync("churn", n % 2 == 0 ? "2.0.0" : "1.0.0");
                while (answered.Wait(0))
                {
                }

                // One worker more than there are workers: some worker then answered twice since the drain, and its
                // second prediction began after the switch.
                for (var k = 0; k <= Workers; k++)
                {
                    Assert.That(await answered.WaitAsync(TimeSpan.FromMinutes(1)), Is.True, "no prediction answered after a switch");
                }
            }
        }

        var seen = new System.Collections.Concurrent.ConcurrentBag<string>();
        var workers = Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
        {
            var count = 0;
            while (!stop.IsCancellationRequested || count < 50)
            {
                var i = (w + count++) % inputs.Count;
                var result = await _models.PredictAsync(new PredictRequest("churn", inputs[i], UseCache: count % 3 == 0));
                seen.Add(result.Version);
                answered.Release();
                Assert.That(result.Score, Is.EqualTo(expected[(result.Version, i)]), $"input {i} answered by {result.Version}");
            }
        })).ToList();

        await Task.WhenAll([switcher, .. workers]);

        Assert.That(seen.Distinct(), Is.EquivalentTo(new[] { "1.0.0", "2.0.0" }));
    }

    [Test]
    public async Task PredictAsync_WithCache_HitsForTheSameInputOnlyAndNeverAcrossVersions()
    {
        await TrainAsync("1.0.0", 1, activate: true);
        await TrainAsync("2.0.0", 2);
        var a = ModelTestKit.Input(3, 0);
        var b = ModelTestKit.Input(3, 1);
        var metrics = _factory!.Services.GetRequiredService<ModelMetrics>();

        var first = await _models.PredictAsync(new PredictRequest("churn", a));
        var again = await _models.PredictAsync(new PredictRequest("churn", a));
        var other = await _models.PredictAsync(new PredictRequest("churn", b));
        var bypass = await _models.PredictAsync(new PredictRequest("churn", a, UseCache: false));
        await _models.ActivateAsync("churn", "2.0.0");
        var switched = await _models.PredictAsync(new PredictRequest("churn", a));
        await _models.EvictCachedPredictionsAsync("churn", "2.0.0");
        var evicted = await _models.PredictAsync(new PredictRequest("churn", a));

        Assert.Multiple(() =>
        {
            Assert.That(
                (first.Cached, again.Cached, other.Cached, bypass.Cached, switched.Cached, evicted.Cached),
                Is.EqualTo((false, true, false, false, false, false)));
            Assert.That(again.Score, Is.EqualTo(first.Score));
            Assert.That(switched.Version, Is.EqualTo("2.0.0"));
            Assert.That(metrics.CacheHits, Is.EqualTo(1));
            Assert.That(metrics.HitRatio, Is.EqualTo(0.2).Within(1e-9));
        });
    }

    [Test]
    public async Task PredictAsync_WhenTheActiveVersionCannotLoad_ThePreviousStableVersionAnswersAndSaysSo()
    {
        await TrainAsync("1.0.0", 1, activate: true);
        await TrainAsync("1.1.0", 2, activate: true);
        var registry = _factory!.Services.GetRequiredService<Formanova.Modules.Model.Registry.ModelRegistry>();
        File.WriteAllBytes(Path.Combine(registry.VersionFolder("churn", "1.1.0"), "model.zip"), [1, 2, 3]);
        // Activation preloaded it; out of memory, as after an eviction or on another instance, it must load the bad file.
        _factory.Services.GetRequiredService<Formanova.Modules.Model.Inference.ModelRuntime>().Unload("churn", "1.1.0");

        var result = await _models.PredictAsync(new PredictRequest("churn", ModelTestKit.Input(1)));
        var batch = await _models.PredictBatchAsync(new PredictBatchRequest("churn", [ModelTestKit.Input(1, 1), ModelTestKit.Input(1, 2)]));
        var pinned = Assert.ThrowsAsync<ModuleException>(
            () => _models.PredictAsync(new PredictRequest("churn", ModelTestKit.Input(1), Version: "1.1.0")));
        var check = await _models.CheckLoadAsync("churn", "1.1.0");

        Assert.Multiple(() =>
        {
            Assert.That(result.Version, Is.EqualTo("1.0.0"));
            Assert.That(result.FallbackFrom, Is.EqualTo("1.1.0"));
            Assert.That(result.FallbackReason, Does.Contain("checksum"));
            Assert.That(batch.Predictions.Select(p => (p.Version, p.FallbackFrom)), Is.All.EqualTo(("1.0.0", "1.1.0")));
            Assert.That(pinned!.Kind, Is.EqualTo(ErrorKind.Unavailable), "a pinned version does not fall back");
            Assert.That(check.Loaded, Is.False);
        });
    }

    [Test]
    public async Task MarkFailedAsync_SwitchesServingToThePreviousStableVersion()
    {
        await TrainAsync("1.0.0", 1, activate: true);
        await TrainAsync("1.1.0", 2, activate: true);
        await _models.PredictAsync(new PredictRequest("churn", ModelTestKit.Input(1)));

        var fallback = await _models.MarkFailedAsync("churn", null, "drift");
        var after = await _models.PredictAsync(new PredictRequest("churn", ModelTestKit.Input(1)));

        Assert.Multiple(() =>
        {
            Assert.That(fallback, Is.EqualTo(new FallbackResult("churn", "1.1.0", "1.0.0")));
            Assert.That(after.Version, Is.EqualTo("1.0.0"));
            Assert.That(after.FallbackFrom, Is.Null);
        });
    }

    [Test]
    public async Task PredictAsync_WithAliasOrVersion_UsesThatVersion()
    {
        await TrainAsync("1.0.0", 1, activate: true);
        await TrainAsync("2.0.0", 2);
        await _models.SetAliasAsync("churn", "Challenger", "2.0.0");
        var warm = await _models.WarmAsync("churn", "2.0.0");

        var byAlias = await _models.PredictAsync(new PredictRequest("CHURN", ModelTestKit.Input(1), Alias: "challenger"));
        var details = await _models.GetModelAsync("churn");

        Assert.Multiple(() =>
        {
            Assert.That(warm.Loaded, Is.True);
            Assert.That(byAlias.Version, Is.EqualTo("2.0.0"));
            Assert.That(details.Aliases, Is.EqualTo(new Dictionary<string, string> { ["challenger"] = "2.0.0" }));
            Assert.That(details.ActiveVersion, Is.EqualTo("1.0.0"));
        });
    }

    [Test]
    public async Task PredictAsync_WithBadInputsInStrictMode_ListsEveryProblemInOneError()
    {
        await TrainAsync("1.0.0", 1, activate: true);
        var input = ModelTestKit.Input(1);
        input.Remove("age");
        input["tenure_months"] = "long";
        input["shoe_size"] = 44.0;

        var error = Assert.ThrowsAsync<ModuleException>(() => _models.PredictAsync(new PredictRequest("churn", input, Strict: true)));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Kind, Is.EqualTo(ErrorKind.Invalid));
            Assert.That(error.Errors.Keys, Is.EquivalentTo(new[] { "inputs.age", "inputs.tenure_months", "inputs.shoe_size" }));
        });
    }

    [Test]
    public async Task RegisterAsync_WithADownloadedZip_RegistersAVersionThatPredictsTheSame()
    {
        var trained = await TrainAsync("1.0.0", 1, activate: true);
        using var zip = new MemoryStream();
        await using (var download = await _models.OpenArtifactAsync("churn", "1.0.0"))
        {
            await download.CopyToAsync(zip);
        }

        zip.Position = 0;
        var uploaded = await _models.RegisterAsync(
            new RegisterModelRequest("churn-copy", "1.0.0", ModelTestKit.Binary, trained.Version.Columns),
            zip);
        var original = await _models.PredictAsync(new PredictRequest("churn", ModelTestKit.Input(4), UseCache: false));
        var copy = await _models.PredictAsync(new PredictRequest("churn-copy", ModelTestKit.Input(4), Version: "1.0.0", UseCache: false));

        Assert.Multiple(() =>
        {
            Assert.That(uploaded.Sha256, Is.EqualTo(trained.Version.Sha256));
            Assert.That(copy.Score, Is.EqualTo(original.Score));
        });
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task PredictBatchAsync_OverManyChunks_AnswersEachRowInOrderAsASinglePredictWould(bool useCache)
    {
        await TrainAsync("1.0.0", 1, activate: true);
        var rows = Enumerable.Range(0, 300).Select(i => (IReadOnlyDictionary<string, object?>)ModelTestKit.Input(3, i)).ToList();

        var batch = await _models.PredictBatchAsync(new PredictBatchRequest("churn", rows, UseCache: useCache));
        var singles = new List<PredictionResult>();
        foreach (var row in rows)
        {
            singles.Add(await _models.PredictAsync(new PredictRequest("churn", row, UseCache: false)));
        }

        Assert.Multiple(() =>
        {
            Assert.That(
                batch.Predictions.Select(p => (p.Version, p.Label, p.Score)),
                Is.EqualTo(singles.Select(p => (p.Version, p.Label, p.Score))));
            Assert.That(
                batch.Predictions.Select(p => p.Probabilities!.ToArray()),
                Is.EqualTo(singles.Select(p => p.Probabilities!.ToArray())));
            Assert.That(batch.Predictions.Select(p => p.Probabilities!["true"] + p.Probabilities["false"]), Is.All.EqualTo(1).Within(1e-6));
        });
    }

    [Test]
    public async Task PredictBatchAsync_WhenRowsInSeveralChunksAreInvalidInStrictMode_ListsTheirErrorsAndPredictsNothing()
    {
        await TrainAsync("1.0.0", 1, activate: true);
        var rows = Enumerable.Range(0, 200).Select(i => (IReadOnlyDictionary<string, object?>)ModelTestKit.Input(3, i)).ToList();
        rows[5] = new Dictionary<string, object?>(rows[5]) { ["age"] = "old" };
        rows[150] = new Dictionary<string, object?>(rows[150]) { ["shoe_size"] = 42.0 };
        rows[199] = null!;

        var error = Assert.ThrowsAsync<ModuleException>(
            () => _models.PredictBatchAsync(new PredictBatchRequest("churn", rows, UseCache: false, Strict: true)));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Kind, Is.EqualTo(ErrorKind.Invalid));
            Assert.That(error.Errors.Keys, Is.EqualTo(new[] { "rows[5].age", "rows[150].shoe_size", "rows[199]" }));
        });
    }

    [Test]
    public async Task PredictBatchAsync_WhenMoreThanFiftyErrors_ReportsTheFirstRowsUpToFiftyInRowOrder()
    {
        await TrainAsync("1.0.0", 1, activate: true);
        var bad = new Dictionary<string, object?> { ["age"] = "old" };
        var rows = Enumerable.Range(0, 500).Select(_ => (IReadOnlyDictionary<string, object?>)bad).ToList();
        var missingPerRow = ModelTestKit.Input(1).Count;

        var error = Assert.ThrowsAsync<ModuleException>(
            () => _models.PredictBatchAsync(new PredictBatchRequest("churn", rows, UseCache: false)));

        var reportedRows = error!.Errors.Keys
            .Select(k => int.Parse(k[5..k.IndexOf(']', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture))
            .Distinct()
            .ToList();
        Assert.Multiple(() =>
        {
            Assert.That(error.Errors, Has.Count.EqualTo(missingPerRow * reportedRows.Count));
            Assert.That(reportedRows, Is.EqualTo(Enumerable.Range(0, (50 + missingPerRow - 1) / missingPerRow)));
        });
    }

    [Test]
    public async Task PredictBatchAsync_WhenTheActiveVersionCannotLoadAndARowIsInvalid_ReportsTheRowWithoutFallingBack()
    {
        await TrainAsync("1.0.0", 1, activate: true);
        await TrainAsync("1.1.0", 2, activate: true);
        var registry = _factory!.Services.GetRequiredService<Formanova.Modules.Model.Registry.ModelRegistry>();
        File.WriteAllBytes(Path.Combine(registry.VersionFolder("churn", "1.1.0"), "model.zip"), [1, 2, 3]);
        // Activation preloaded it; out of memory, as after an eviction or on another instance, it must load the bad file.
        _factory.Services.GetRequiredService<Formanova.Modules.Model.Inference.ModelRuntime>().Unload("churn", "1.1.0");

        var error = Assert.ThrowsAsync<ModuleException>(() => _models.PredictBatchAsync(new PredictBatchRequest(
            "churn",
            [ModelTestKit.Input(1), new Dictionary<string, object?>(ModelTestKit.Input(1)) { ["age"] = "old" }])));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Kind, Is.EqualTo(ErrorKind.Invalid));
            Assert.That(error.Errors.Keys, Is.EqualTo(new[] { "rows[1].age" }));
        });
    }

    [Test]
    public async Task PredictRowsAsync_WithReorderedAndSkippedColumns_AnswersEachRowAsPredictBatchAsync()
    {
        await TrainAsync("1.0.0", 1, activate: true);
        var named = Enumerable.Range(0, 300).Select(i => (IReadOnlyDictionary<string, object?>)ModelTestKit.Input(3, i)).ToList();
        // Reversed, with an id the model does not take in front: positions are matched by name, once.
        string?[] columns = [null, .. named[0].Keys.Reverse()];
        var rows = named.Select((r, i) => (object?[])[$"customer-{i}", .. columns.Skip(1).Select(c => r[c!])]).ToList();

        var positional = await _models.PredictRowsAsync(new PredictRowsRequest("churn", columns, rows, MaxParallelism: 1));
        var batch = await _models.PredictBatchAsync(new PredictBatchRequest("churn", named, UseCache: false));

        Assert.Multiple(() =>
        {
            Assert.That(positional.Version, Is.EqualTo("1.0.0"));
            Assert.That(positional.Task, Is.EqualTo(ModelTestKit.Binary));
            Assert.That(positional.Labels, Is.EqualTo(batch.Predictions.Select(p => p.Label)));
            Assert.That(positional.Values, Is.EqualTo(batch.Predictions.Select(p => p.Value)));
            Assert.That(positional.Scores, Is.EqualTo(batch.Predictions.Select(p => p.Score)));
            Assert.That(positional.Labels.Distinct().Count(), Is.EqualTo(2), "both classes occur, so the comparison can tell rows apart");
        });
    }

    [Test]
    public async Task PredictRowsAsync_WhenRowsHaveWrongTypesOrWidths_ListsTheirErrorsAndPredictsNothing()
    {
        await TrainAsync("1.0.0", 1, activate: true);
        var named = Enumerable.Range(0, 200).Select(i => ModelTestKit.Input(3, i)).ToList();
        var columns = named[0].Keys.ToList();
        var rows = named.Select(r => columns.Select(c => r[c]).ToArray()).ToList();
        rows[5][columns.IndexOf("age")] = "old";
        rows[150] = rows[150][1..];
        rows[199] = null!;

        var error = Assert.ThrowsAsync<ModuleException>(() => _models.PredictRowsAsync(new PredictRowsRequest("churn", columns, rows)));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Kind, Is.EqualTo(ErrorKind.Invalid));
            Assert.That(error.Errors.Keys, Is.EqualTo(new[] { "rows[5].age", "rows[150]", "rows[199]" }));
            Assert.That(
                error.Errors["rows[5].age"],
                Is.EqualTo(new[] { "Column 'age' (numeric): expected a number or null, got a string." }));
        });
    }

    [Test]
    public async Task PredictRowsAsync_WhenColumnsAreUnknownInStrictModeRepeatedOrMissing_NamesEachBeforeReadingAnyRow()
    {
        await TrainAsync("1.0.0", 1, activate: true);
        var input = ModelTestKit.Input(1);
        string?[] columns = [.. input.Keys.Where(k => k != "age"), "shoe_size", "tenure_months", null];
        object?[] row = [.. input.Where(kv => kv.Key != "age").Select(kv => kv.Value), 44.0, 3.0, "id"];
        var unknownAt = columns.Length - 3;

        var error = Assert.ThrowsAsync<ModuleException>(
            () => _models.PredictRowsAsync(new PredictRowsRequest("churn", columns, [row, null!], Strict: true)));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Kind, Is.EqualTo(ErrorKind.Invalid));
            Assert.That(error.Errors.Keys, Is.EquivalentTo(new[] { $"columns[{unknownAt}]", $"columns[{unknownAt + 1}]", "columns.age" }));
        });
    }

    [TestCase(0)]
    [TestCase(-1)]
    public async Task PredictRowsAsync_WithAParallelismBelowOne_IsInvalid(int parallelism)
    {
        await TrainAsync("1.0.0", 1, activate: true);
        var input = ModelTestKit.Input(1);

        var error = Assert.ThrowsAsync<ModuleException>(() => _models.PredictRowsAsync(
            new PredictRowsRequest("churn", [.. input.Keys], [[.. input.Values]], MaxParallelism: parallelism)));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Kind, Is.EqualTo(ErrorKind.Invalid));
            Assert.That(error.Errors.Keys, Is.EqualTo(new[] { "maxParallelism" }));
        });
    }

    [Test]
    public async Task PredictRowsAsync_WhenTheActiveVersionCannotLoad_ThePreviousStableVersionAnswersAndSaysSo()
    {
        await TrainAsync("1.0.0", 1, activate: true);
        await TrainAsync("1.1.0", 2, activate: true);
        var registry = _factory!.Services.GetRequiredService<Formanova.Modules.Model.Registry.ModelRegistry>();
        File.WriteAllBytes(Path.Combine(registry.VersionFolder("churn", "1.1.0"), "model.zip"), [1, 2, 3]);
        // Activation preloaded it; out of memory, as after an eviction or on another instance, it must load the bad file.
        _factory.Services.GetRequiredService<Formanova.Modules.Model.Inference.ModelRuntime>().Unload("churn", "1.1.0");
        var input = ModelTestKit.Input(1);

        var answer = await _models.PredictRowsAsync(new PredictRowsRequest("churn", [.. input.Keys], [[.. input.Values]]));
        var pinned = await _models.PredictAsync(new PredictRequest("churn", input, Version: "1.0.0", UseCache: false));

        Assert.Multiple(() =>
        {
            Assert.That(answer.Version, Is.EqualTo("1.0.0"));
            Assert.That(answer.FallbackFrom, Is.EqualTo("1.1.0"));
            Assert.That(answer.Scores, Is.EqualTo(new[] { pinned.Score }));
        });
    }
}
