using System.Text.Json;
using Dapper;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Data.Migrations;

/// <summary>
/// Migration 0004: batch jobs recorded before data_predictions existed stored each chunk's predictions as a JSON
/// array in the chunk's result record; after the upgrade their export reads data_predictions, so the rows must be there.
/// </summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class CopyChunkPredictionsMigrationTests(DatabaseProvider provider)
{
    private DataHarness _harness = null!;

    [SetUp]
    public async Task SetUp() => _harness = await DataHarness.CreateAsync(provider);

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    private async Task RunCopyMigrationAsync()
    {
        var migration = _harness.Services.GetServices<MigrationSet>().Single(s => s.Module == "data").Migrations
            .Single(m => m.Version == 4);
        var database = _harness.Services.GetRequiredService<IDatabase>();
        await using var connection = await database.OpenConnectionAsync();
        await connection.ExecuteAsync(database.Dialect.Expand(migration.ScriptFor(database.Dialect)!));
    }

    private async Task<List<StoredPrediction>> PredictionsAsync(string jobId)
    {
        var rows = new List<StoredPrediction>();
        await foreach (var row in _harness.Data.ReadPredictionsAsync(jobId))
        {
            rows.Add(row);
        }

        return rows;
    }

    private Task RecordChunkAsync(string jobId, string step, ResultStatus status, object output)
    {
        var at = DateTimeOffset.UtcNow;
        return _harness.Data
            .RecordResultAsync(new RecordResultRequest(jobId, step, status, at, at, Output: JsonSerializer.SerializeToElement(output)));
    }

    [Test]
    public async Task Migrate_WhenAJobStoredChunkPredictionsAsJson_CopiesThemOnceIntoThePredictionsTable()
    {
        await RecordChunkAsync("old-job", "chunk-000001", ResultStatus.Succeeded, new object[]
        {
            new { rowId = 9, label = (string?)null, value = (double?)null, score = 0.25 },
            new { rowId = 7, label = "yes", value = 1.0, score = 0.75 },
        });
        await RecordChunkAsync(
            "old-job",
            "chunk-000002",
            ResultStatus.Failed,
            new object[] { new { rowId = 11, label = "no", value = 0.0, score = 0.1 } });
        await RecordChunkAsync("new-job", "chunk-000000", ResultStatus.Succeeded, new { firstRowId = 1, lastRowId = 2, count = 2 });

        await RunCopyMigrationAsync();
        await RunCopyMigrationAsync();

        Assert.That(
            await PredictionsAsync("old-job"),
            Is.EqualTo(new[] { new StoredPrediction(7, "yes", 1.0, 0.75), new StoredPrediction(9, null, null, 0.25) }));
        Assert.That(await PredictionsAsync("new-job"), Is.Empty);
    }
}
