using System.Buffers;
using System.Text;
using Dapper;
using Formanova.Modules.Data;
using Formanova.Modules.Data.Schema;
using Formanova.Modules.Data.Storage;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Formanova.Tests.Data.Storage;

/// <summary>
/// Rows written in short transactions under an import attempt: invisible to every read until the attempt is
/// published, deleted when it fails, is rejected or its process dies, and never deleted once published.
/// </summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class ImportStagingTests(DatabaseProvider provider)
{
    private static readonly IReadOnlyList<ColumnDefinition> Columns =
    [
        new("id", ColumnType.Numeric, Nullable: false, ColumnRole.Id),
        new("x", ColumnType.Numeric),
    ];

    private DataHarness _harness = null!;

    private IDataModule Data => _harness.Data;

    private ImportStaging Staging => _harness.Services.GetRequiredService<ImportStaging>();

    [SetUp]
    public async Task SetUp()
        => _harness = await DataHarness.CreateAsync(provider, [new("Data:Import:CommitRows", "100"), new("Data:StreamChunkRows", "7")]);

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    private static MemoryStream Csv(int from, int count, int? badAt = null) => new(Encoding.UTF8.GetBytes(
        "id,x\n" + string.Concat(Enumerable.Range(from, count).Select(i => i == badAt ? $"{i},oops\n" : $"{i},{i * 0.5}\n"))));

    private static List<EncodedRow> Batch(int from, int count)
    {
        var buffer = new ArrayBufferWriter<byte>();
        return Enumerable.Range(from, count).Select(i =>
        {
            object?[] values = [(double)i, i * 0.5];
            return new EncodedRow(i, CompiledSchema.EntityHash(values, 0), RowCodec.Encode(values, buffer));
        }).ToList();
    }

    private async Task<long> CountAsync(string sql, long datasetId = 0)
    {
        await using var connection = await _harness.Database.Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>(sql, new { DatasetId = datasetId });
    }

    private Task<long> StoredRowsAsync(long datasetId)
        => CountAsync("SELECT COUNT(*) FROM data_rows WHERE dataset_id = @DatasetId", datasetId);

    private Task<long> AttemptsAsync() => CountAsync("SELECT COUNT(*) FROM data_import_attempts");

    private Task<long> PurgesAsync() => CountAsync("SELECT COUNT(*) FROM data_row_purges");

    private async Task<int> StreamedRowsAsync(long datasetId)
    {
        var count = 0;
        await foreach (var _ in (await Data.OpenRowStreamAsync(datasetId)).Rows)
        {
            count++;
        }

        return count;
    }

    private async Task<long> CreateWithRowsAsync(string name, int rows)
    {
        var dataset = (await Data.CreateDatasetAsync(new CreateDatasetRequest(name, Columns))).Id;
        Assert.That(
            (await Data.ImportRowsAsync(dataset, Csv(1, rows), new ImportOptions(ImportFormat.Csv))).RowsAccepted,
            Is.EqualTo(rows));
        return dataset;
    }

    [Test]
    public async Task SweepAsync_WhenAnImportsProcessStoppedRenewingItsHeartbeat_DeletesItsRowsKeepsALiveImportAndTheDeadOneCannotPublish()
    {
        var dataset = await CreateWithRowsAsync("staged", 5);
        // The import of a process that dies after two batches: begun, written, never finished.
        await using var dead = await Staging.BeginAsync(dataset, "dead", 1, DateTimeOffset.UtcNow, CancellationToken.None);
        await dead.WriteAsync(Batch(100, 100), CancellationToken.None);
        await dead.WriteAsync(Batch(200, 100), CancellationToken.None);

        var page = await Data.ReadRowsAsync(dataset, null, 1000);
        var streamed = await StreamedRowsAsync(dataset);
        var plan = await Data.PlanRowChunksAsync(dataset, 7);
        var entity = await Data.FindRowByEntityIdAsync(dataset, "150");
        var count = (await Data.GetDatasetAsync(dataset)).RowCount;
        var stored = await StoredRowsAsync(dataset);
        Assert.Multiple(() =>
        {
            Assert.That(page.Rows, Has.Count.EqualTo(5), "paged read");
            Assert.That(streamed, Is.EqualTo(5), "streamed read");
            Assert.That(plan.TotalRows, Is.EqualTo(5), "chunk plan");
            Assert.That(entity, Is.Null, "entity look-up");
            Assert.That(count, Is.EqualTo(5), "row count");
            Assert.That(stored, Is.EqualTo(205), "the batches are committed, only hidden");
        });

        // Another process whose clock is past the abandonment sweeps; its own running import is left alone.
        var later = new FakeTimeProvider(DateTimeOffset.UtcNow + TimeSpan.FromHours(1));
        await using var other = await DataHarness.CreateOnAsync(_harness.Database, later);
        var otherStaging = other.Services.GetRequiredService<ImportStaging>();
        await using var live = await otherStaging.BeginAsync(dataset, "live", 1, later.GetUtcNow(), CancellationToken.None);
        await live.WriteAsync(Batch(1000, 50), CancellationToken.None);

        var swept = await otherStaging.SweepAsync(CancellationToken.None);
        var lost = Assert.ThrowsAsync<ModuleException>(() => dead.PublishAsync("{}", 200, DateTimeOffset.UtcNow, CancellationToken.None));
        var published = await live.PublishAsync("{}", 50, later.GetUtcNow(), CancellationToken.None);

        Assert.Multiple(async () =>
        {
            Assert.That(swept, Is.EqualTo(1));
            Assert.That(lost!.Kind, Is.EqualTo(ErrorKind.Unavailable));
            Assert.That(published, Is.True);
            Assert.That(await StoredRowsAsync(dataset), Is.EqualTo(55));
            Assert.That(await StreamedRowsAsync(dataset), Is.EqualTo(55));
            Assert.That((await Data.GetDatasetAsync(dataset)).RowCount, Is.EqualTo(55));
            Assert.That(await AttemptsAsync(), Is.Zero);
        });
    }

    [Test]
    public async Task SweepAsync_WhenADatasetDeletionStoppedBeforeItsRowsWereRemoved_RemovesThem()
    {
        var dataset = await CreateWithRowsAsync("half-deleted", 250);
        var keep = await CreateWithRowsAsync("kept", 3);
        // The definition is gone, as after a process that stopped right after that transaction.
        Assert.That(await _harness.Services.GetRequiredService<DatasetRepository>()
            .DeleteAsync(dataset, DateTimeOffset.UtcNow, CancellationToken.None), Is.True);
        Assert.That(await StoredRowsAsync(dataset), Is.EqualTo(250));

        var later = new FakeTimeProvider(DateTimeOffset.UtcNow + TimeSpan.FromHours(1));
        await using var other = await DataHarness.CreateOnAsync(_harness.Database, later);
        var swept = await other.Services.GetRequiredService<ImportStaging>().SweepAsync(CancellationToken.None);

        Assert.Multiple(async () =>
        {
            Assert.That(swept, Is.EqualTo(1));
            Assert.That(await StoredRowsAsync(dataset), Is.Zero);
            Assert.That(await PurgesAsync(), Is.Zero);
            Assert.That(await StoredRowsAsync(keep), Is.EqualTo(3));
        });
    }

    [Test]
    public async Task WriteAsync_WhenTheDatasetWasDeletedDuringTheImport_FailsWith404AndLeavesNothing()
    {
        var dataset = await CreateWithRowsAsync("deleted-under-import", 10);
        var attempt = await Staging.BeginAsync(dataset, "running", 1, DateTimeOffset.UtcNow, CancellationToken.None);
        await attempt.WriteAsync(Batch(100, 100), CancellationToken.None);

        await Data.DeleteDatasetAsync(dataset);
        var ex = Assert.ThrowsAsync<ModuleException>(() => attempt.WriteAsync(Batch(200, 100), CancellationToken.None));
        await attempt.DisposeAsync();

        Assert.Multiple(async () =>
        {
            Assert.That(ex!.Kind, Is.EqualTo(ErrorKind.NotFound));
            Assert.That(await StoredRowsAsync(dataset), Is.Zero);
            Assert.That(await AttemptsAsync(), Is.Zero);
            Assert.That(await PurgesAsync(), Is.Zero);
        });
    }

    [TestCase(ImportErrorMode.Reject, 0)]
    [TestCase(ImportErrorMode.Skip, 1299)]
    public async Task ImportRowsAsync_WhenABadRowFollowsCommittedBatches_LeavesOnlyWhatTheModeStoresAndNoAttempt(
        ImportErrorMode mode,
        long expected)
    {
        var dataset = (await Data.CreateDatasetAsync(new CreateDatasetRequest($"bad-row-{mode}", Columns))).Id;

        var report = await Data.ImportRowsAsync(dataset, Csv(1, 1300, badAt: 1250), new ImportOptions(ImportFormat.Csv, OnError: mode));

        Assert.Multiple(async () =>
        {
            Assert.That(report.RowsRejected, Is.EqualTo(1));
            Assert.That(await StoredRowsAsync(dataset), Is.EqualTo(expected), "rows left in the table, visible or not");
            Assert.That(await AttemptsAsync(), Is.Zero);
        });
    }
}
