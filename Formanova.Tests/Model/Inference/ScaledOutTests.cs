using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Model.Inference;

/// <summary>Two instances on one PostgreSQL database and one Redis, each with its own data directory (no shared volume).</summary>
[Category("Integration")]
public sealed class ScaledOutTests
{
    [Test]
    public async Task PredictAsync_OnASecondInstance_LoadsFromTheDatabaseStoreAndSharesTheL2Cache()
    {
        var redis = TestServices.Redis();
        await using var db = await TestDatabase.CreateAsync(DatabaseProvider.Postgres);
        var prefix = $"fn-test-{Guid.NewGuid():N}:";
        KeyValuePair<string, string?>[] shared =
        [
            .. db.Settings,
            new("Model:ArtifactStore", "Database"),
            new("Model:Bootstrap:Enabled", "false"),
            new("Cache:L2:InstanceName", prefix),
            TestServices.RedisTimeout,
        ];
        // AddFormanovaInfrastructure reads Cache:Redis while registering services, before the factory's settings are
        // layered in; an environment variable is visible at that point, as in a deployment.
        var previousRedis = Environment.GetEnvironmentVariable("Cache__Redis");
        Environment.SetEnvironmentVariable("Cache__Redis", redis);
        try
        {
            await RunAsync(db, shared);
        }
        finally
        {
            Environment.SetEnvironmentVariable("Cache__Redis", previousRedis);
        }
    }

    private static async Task RunAsync(TestDatabase db, KeyValuePair<string, string?>[] shared)
    {
        using var first = new FormanovaFactory(shared);
        var secondDirectory = Directory.CreateTempSubdirectory("formanova-second-").FullName;
        using var second = new FormanovaFactory([.. shared, new("Formanova:DataDirectory", secondDirectory)]);
        var a = first.Services.GetRequiredService<IModelModule>();
        var b = second.Services.GetRequiredService<IModelModule>();
        await first.Services.GetRequiredService<ModelBootstrapper>().Completed;
        await second.Services.GetRequiredService<ModelBootstrapper>().Completed;
        // Connect both to Redis first: the cache connects lazily, and a connect slower than the timeout would put L2 in back-off.
        await first.Services.GetRequiredService<Formanova.Modules.Shared.Caching.RedisConnection>().GetAsync();
        await second.Services.GetRequiredService<Formanova.Modules.Shared.Caching.RedisConnection>().GetAsync();
        await a.TrainAsync(
            ModelTestKit.Request("churn", "1.0.0", seed: 1, activate: true),
            SampleData.RowsAsync(ModelTestKit.Binary, 600, 1));
        var input = ModelTestKit.Input(8);

        Assert.That(
            second.Services.GetRequiredService<Formanova.Modules.Shared.Caching.ITwoLevelCache>().L2Available,
            Is.True,
            "L2 configured on the second instance");
        var onSecond = await b.PredictAsync(new PredictRequest("churn", input));
        var onFirst = await a.PredictAsync(new PredictRequest("churn", input));

        Assert.Multiple(() =>
        {
            Assert.That(
                File.Exists(Path.Combine(secondDirectory, "models", "churn", "1.0.0", "model.zip")),
                Is.True,
                "materialised from the database store");
            Assert.That(
                File.Exists(Path.Combine(db.DataDirectory, "models", "churn", "1.0.0", "model.zip")),
                Is.True,
                "written by the first instance");
            Assert.That(onSecond.Cached, Is.False);
            Assert.That(onFirst.Cached, Is.True, "written through to Redis by the second instance");
            Assert.That(onFirst.Score, Is.EqualTo(onSecond.Score));
        });
    }
}
