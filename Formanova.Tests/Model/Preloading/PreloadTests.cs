using System.Net;
using System.Net.Http.Json;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Inference;
using Formanova.Modules.Model.Preloading;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared.Caching;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Formanova.Tests.Model.Preloading;

/// <summary>
/// Preloading through the real host and HTTP: the incoming version is loaded before a switch, and a restart loads the
/// versions (and warms the hot keys) the previous run served, within the budgets, without ever failing the host.
/// </summary>
[Category("Integration")]
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class PreloadTests(DatabaseProvider provider)
{
    private const string Model = "churn";

    private TestDatabase _db = null!;

    [SetUp]
    public async Task SetUp() => _db = await TestDatabase.CreateAsync(provider);

    [TearDown]
    public async Task TearDown() => await _db.DisposeAsync();

    [TestCase(true)]
    [TestCase(false)]
    public async Task ActivateOverRest_WhenPreloadIsOn_TheFirstRequestFindsTheNewVersionLoaded(bool enabled)
    {
        using var host = Host(("Model:Preload:Enabled", enabled ? "true" : "false"));
        var client = host.CreateClient();
        await TrainAsync(host, "1.0.0", activate: true);
        await TrainAsync(host, "1.1.0");
        var runtime = host.Services.GetRequiredService<ModelRuntime>();
        runtime.Unload(Model, "1.1.0");

        var activated = await client.PostAsync($"/api/v1/models/{Model}/versions/1.1.0/activate", null);
        var loadedBeforeTheRequest = runtime.IsLoaded(Model, "1.1.0");
        var answer = await PredictAsync(client);

        Assert.Multiple(() =>
        {
            Assert.That(activated.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(loadedBeforeTheRequest, Is.EqualTo(enabled));
            Assert.That(answer.Version, Is.EqualTo("1.1.0"));
        });
    }

    [Test]
    public async Task SetAliasOverRest_LoadsTheAliasTargetBeforeTheMove()
    {
        using var host = Host();
        var client = host.CreateClient();
        await TrainAsync(host, "1.0.0", activate: true);
        await TrainAsync(host, "1.1.0");
        var runtime = host.Services.GetRequiredService<ModelRuntime>();
        runtime.Unload(Model, "1.1.0");

        var moved = await client.PutAsJsonAsync($"/api/v1/models/{Model}/aliases/challenger", new { version = "1.1.0" });

        Assert.That(moved.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(runtime.IsLoaded(Model, "1.1.0"), Is.True);
    }

    [Test]
    public async Task ActivateOverRest_WhenTheVersionFailsToLoad_SwitchesAsBeforeWarnsAndFallsBack()
    {
        var logs = new LogCapture();
        using var host = Host(logs);
        var client = host.CreateClient();
        await TrainAsync(host, "1.0.0", activate: true);
        await TrainAsync(host, "1.1.0");
        host.Services.GetRequiredService<ModelRuntime>().Unload(Model, "1.1.0");
        var registry = host.Services.GetRequiredService<ModelRegistry>();
        File.WriteAllBytes(Path.Combine(registry.VersionFolder(Model, "1.1.0"), ModelRegistry.ModelFile), [1, 2, 3]);

        var activated = await client.PostAsync($"/api/v1/models/{Model}/versions/1.1.0/activate", null);
        var answer = await PredictAsync(client);

        Assert.Multiple(() =>
        {
            Assert.That(activated.StatusCode, Is.EqualTo(HttpStatusCode.OK), "activation behaves as it did without preloading");
            Assert.That(answer.Version, Is.EqualTo("1.0.0"));
            Assert.That(answer.FallbackFrom, Is.EqualTo("1.1.0"));
            Assert.That(
                logs.Of(typeof(ModelPreloader).FullName!).Where(e => e.Level == LogLevel.Warning).Select(e => e.Message),
                Has.Some.Contains("1.1.0 failed to load before becoming active"));
        });
    }

    [Test]
    public async Task Restart_AfterTrafficOnAVersion_LoadsItBeforeItsFirstRequest()
    {
        using (var first = Host())
        {
            var client = first.CreateClient();
            await TrainAsync(first, "1.0.0", activate: true);
            await TrainAsync(first, "1.1.0");
            await TrainAsync(first, "1.2.0");
            for (var i = 0; i < 3; i++)
            {
                await PredictAsync(client, version: "1.1.0", seed: i);
            }
        }

        using var second = Host();
        await second.Services.GetRequiredService<ModelPreloader>().Completed;
        var runtime = second.Services.GetRequiredService<ModelRuntime>();

        Assert.Multiple(() =>
        {
            Assert.That(runtime.IsLoaded(Model, "1.1.0"), Is.True, "recent traffic, neither active nor aliased");
            Assert.That(runtime.IsLoaded(Model, "1.0.0"), Is.True, "active");
            Assert.That(runtime.IsLoaded(Model, "1.2.0"), Is.False, "no traffic, neither active nor aliased");
        });
    }

    [Test]
    public async Task Restart_WithABudgetOfOneVersion_LoadsOnlyTheActiveOne()
    {
        using (var first = Host())
        {
            var client = first.CreateClient();
            await TrainAsync(first, "1.0.0", activate: true);
            await TrainAsync(first, "1.1.0");
            await PredictAsync(client, version: "1.1.0");
            await PredictAsync(client);
        }

        using var second = Host(("Model:Preload:MaxVersions", "1"));
        var preloader = second.Services.GetRequiredService<ModelPreloader>();
        await preloader.Completed;
        var runtime = second.Services.GetRequiredService<ModelRuntime>();

        Assert.Multiple(() =>
        {
            Assert.That(preloader.Progress.Loaded, Is.EqualTo(1));
            Assert.That(runtime.IsLoaded(Model, "1.0.0"), Is.True);
            Assert.That(runtime.IsLoaded(Model, "1.1.0"), Is.False);
        });
    }

    [Test]
    public async Task Restart_WhenPreloadFails_LogsAndTheHostServes()
    {
        using (var first = Host())
        {
            await TrainAsync(first, "1.0.0", activate: true);
            await TrainAsync(first, "1.1.0", activate: true);
            await PredictAsync(first.CreateClient());
            var registry = first.Services.GetRequiredService<ModelRegistry>();
            File.WriteAllBytes(Path.Combine(registry.VersionFolder(Model, "1.1.0"), ModelRegistry.ModelFile), [1, 2, 3]);
        }

        var logs = new LogCapture();
        using var second = Host(
            logs,
            services => services.AddSingleton(new ModelPreloadSource("broken", _ => throw new InvalidOperationException("no arms"))));
        var preloader = second.Services.GetRequiredService<ModelPreloader>();
        await preloader.Completed;
        var client = second.CreateClient();
        var ready = await client.GetAsync("/health/ready");
        var answer = await PredictAsync(client);

        var warnings = logs.Of(typeof(ModelPreloader).FullName!).Where(e => e.Level == LogLevel.Warning).Select(e => e.Message).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(preloader.Stage, Is.EqualTo(PreloadStage.Done));
            Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(answer.FallbackFrom, Is.EqualTo("1.1.0"));
            Assert.That(warnings, Has.Some.Contains("1.1.0 failed to load"));
            Assert.That(warnings, Has.Some.Contains("broken"));
        });
    }

    [Test]
    public async Task Restart_WithRedis_WarmsTheHotKeysIntoL1WithinTheBudget()
    {
        var redis = TestServices.Redis();
        var previousRedis = Environment.GetEnvironmentVariable("Cache__Redis");
        Environment.SetEnvironmentVariable("Cache__Redis", redis);
        try
        {
            (string, string?)[] settings =
            [
                ("Cache:L2:InstanceName", $"fn-test-{Guid.NewGuid():N}:"),
                ("Cache:L2:TimeoutMilliseconds", $"{TestServices.RedisTimeoutMilliseconds}"),
                ("Model:Preload:HotKeySampling", "1"),
                ("Model:Preload:MaxHotKeys", "2"),
            ];
            using (var first = Host(settings))
            {
                await first.Services.GetRequiredService<RedisConnection>().GetAsync();
                var client = first.CreateClient();
                await TrainAsync(first, "1.0.0", activate: true);
                for (var i = 0; i < 4; i++)
                {
                    // Input i is asked for 4 - i times, so inputs 0 and 1 are the two hottest.
                    for (var repeat = 0; repeat < 4 - i; repeat++)
                    {
                        await PredictAsync(client, seed: i);
                    }
                }
            }

            using var second = Host(settings);
            await second.Services.GetRequiredService<RedisConnection>().GetAsync();
            var preloader = second.Services.GetRequiredService<ModelPreloader>();
            await preloader.Completed;
            var stored = await second.Services.GetRequiredService<ModelAccessStore>().ListRecentAsync(DateTimeOffset.MinValue, default);
            var hotKeys = stored.Single(r => r.Version == "1.0.0").HotKeys;
            var cache = second.Services.GetRequiredService<ITwoLevelCache>();
            var levels = new List<CacheLevel>();
            foreach (var key in hotKeys.Take(2))
            {
                levels.Add((await cache.GetAsync<PredictionResult>(ModelService.CacheArea, key)).Level);
            }

            var colder = await cache.GetAsync<PredictionResult>(ModelService.CacheArea, hotKeys[2]);

            Assert.Multiple(() =>
            {
                Assert.That(hotKeys, Has.Count.EqualTo(4));
                Assert.That(preloader.Progress.KeysWarmed, Is.EqualTo(2), "Model:Preload:MaxHotKeys");
                Assert.That(levels, Is.All.EqualTo(CacheLevel.L1), "the two hottest keys are in L1 before any request");
                Assert.That(colder.Level, Is.EqualTo(CacheLevel.L2), "past the budget, the next key is still only in L2");
            });
        }
        finally
        {
            Environment.SetEnvironmentVariable("Cache__Redis", previousRedis);
        }
    }

    private FormanovaFactory Host(params (string Key, string? Value)[] settings) => Host(null, null, settings);

    private FormanovaFactory Host(
        LogCapture? logs,
        Action<IServiceCollection>? services = null,
        params (string Key, string? Value)[] settings)
    {
        var all = _db.Settings.Concat(
        [
            new("Model:Bootstrap:Enabled", "false"),
            new("Logging:LogLevel:Default", "Warning"),
            new("Logging:LogLevel:Temporalio", "Error"),
            .. settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)),
        ]);
        return new FormanovaFactory(all, s =>
        {
            if (logs is not null)
            {
                s.AddSingleton<ILoggerProvider>(logs);
            }

            services?.Invoke(s);
        });
    }

    private static async Task TrainAsync(FormanovaFactory host, string version, bool activate = false)
    {
        const ModelTask task = ModelTask.BinaryClassification;
        await host.Services.GetRequiredService<IModelModule>().TrainAsync(
            new TrainModelRequest(Model, version, task, SampleData.Columns(task), Seed: 3, Activate: activate),
            SampleData.RowsAsync(task, 300, 3));
    }

    private static async Task<PredictionResult> PredictAsync(HttpClient client, string? version = null, int seed = 1)
    {
        var response = await client.PostAsJsonAsync($"/api/v1/models/{Model}/predict", new { inputs = ModelTestKit.Input(seed), version });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<PredictionResult>())!;
    }
}
