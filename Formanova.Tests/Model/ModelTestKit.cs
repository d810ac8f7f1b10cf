using Formanova.Modules.Model;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Formanova.Tests.Model;

/// <summary>Shared fixtures: a small trained churn model (trained once per test run) and registries on a test database.</summary>
internal static class ModelTestKit
{
    public const ModelTask Binary = ModelTask.BinaryClassification;

    private static readonly Lazy<Task<TrainedModel>> SmallModel = new(() => TrainAsync(seed: 7, rows: 800));

    public static Task<TrainedModel> SmallChurnModel => SmallModel.Value;

    public static TrainModelRequest Request(
        string name = "churn",
        string version = "1.0.0",
        ModelTask task = Binary,
        string? trainer = null,
        int seed = 42,
        bool activate = false) =>
        new(name, version, task, SampleData.Columns(task), trainer, seed, Activate: activate);

    public static Task<TrainedModel> TrainAsync(
        int seed,
        int rows,
        ModelTask task = Binary,
        string? trainer = null,
        ModelOptions? options = null) =>
        new ModelTrainer(Options.Create(options ?? new ModelOptions()))
            .TrainAsync(
                Request(task: task, trainer: trainer, seed: seed),
                SampleData.RowsAsync(task, rows, seed),
                null,
                null,
                CancellationToken.None);

    public static NewVersion Version(string name, string version) =>
        new(name, version, Binary, "FastTree", SampleData.Columns(Binary), new Dictionary<string, double> { ["auc"] = 0.9 },
            new Dictionary<string, string>(), new ModelLineage("dataset-1", "3", "run-1"), null, 7);

    public static async Task<ModelRegistry> RegistryAsync(TestDatabase db, ArtifactStoreKind store = ArtifactStoreKind.Local)
    {
        await new Migrator(
            db.Database,
            [MigrationSet.FromEmbeddedResources("model", typeof(SharedInfrastructure).Assembly, "Model/Migrations")],
            TimeProvider.System,
            NullLogger<Migrator>.Instance)
            .MigrateAsync();
        return new ModelRegistry(
            db.Database,
            store == ArtifactStoreKind.Database ? new DatabaseArtifactStore(db.Database) : new LocalArtifactStore(),
            Options.Create(new ModelOptions { ArtifactStore = store }),
            Options.Create(new FormanovaOptions { DataDirectory = db.DataDirectory }),
            TimeProvider.System,
            NullLogger<ModelRegistry>.Instance);
    }

    public static Dictionary<string, object?> Input(int seed, int index = 0) =>
        SampleData.Input(SampleData.Rows(Binary, index + 1, seed).Last(), Binary);
}
