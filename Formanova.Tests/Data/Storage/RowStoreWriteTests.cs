using System.Globalization;
using System.Text;
using Dapper;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;

namespace Formanova.Tests.Data.Storage;

/// <summary>
/// The bulk write path with statements and transactions much smaller than the import, so that rows span several full
/// statements, a shorter last one and several batches: every row is stored once, in order, with its shared values.
/// </summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class RowStoreWriteTests(DatabaseProvider provider)
{
    private const int Rows = 23;

    private DataHarness _harness = null!;

    [SetUp]
    public async Task SetUp() => _harness = await DataHarness.CreateAsync(
        provider,
        [new("Data:Import:CommitRows", "10"), new("Data:Import:SqliteBatchRows", "3")]);

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    private static MemoryStream Csv(string header, Func<int, string> line) =>
        new(Encoding.UTF8.GetBytes(header + "\n" + string.Concat(Enumerable.Range(1, Rows).Select(i => line(i) + "\n"))));

    private async Task<List<StoredRowView>> StoredAsync(long datasetId)
    {
        await using var connection = await _harness.Database.Database.OpenConnectionAsync();
        return (await connection.QueryAsync<StoredRowView>(
            """
            SELECT row_number, entity_hash, created_at, schema_version, import_id
            FROM data_rows WHERE dataset_id = @DatasetId ORDER BY id
            """,
            new { DatasetId = datasetId })).AsList();
    }

    [Test]
    public async Task ImportRowsAsync_WhenRowsSpanSeveralStatementsAndBatches_StoresEveryRowOnceInOrder()
    {
        var dataset = await _harness.Data.CreateDatasetAsync(new CreateDatasetRequest(
            "spans",
            [new("x", ColumnType.Numeric), new("name", ColumnType.Text)]));

        var report = await _harness.Data.ImportRowsAsync(
            dataset.Id,
            Csv("x,name", i => string.Create(CultureInfo.InvariantCulture, $"{i * 1.5},row {i}")),
            new ImportOptions(ImportFormat.Csv));

        var values = new List<object?[]>();
        await foreach (var row in (await _harness.Data.OpenRowStreamAsync(dataset.Id)).Rows)
        {
            values.Add(row);
        }

        var stored = await StoredAsync(dataset.Id);
        Assert.Multiple(() =>
        {
            Assert.That(report.RowsAccepted, Is.EqualTo(Rows));
            Assert.That(values.Select(v => v[0]), Is.EqualTo(Enumerable.Range(1, Rows).Select(i => (object)(i * 1.5))));
            Assert.That(values.Select(v => v[1]), Is.EqualTo(Enumerable.Range(1, Rows).Select(i => $"row {i}")));
            Assert.That(stored.Select(r => r.RowNumber), Is.EqualTo(Enumerable.Range(1, Rows).Select(i => (long)i)));
            Assert.That(stored.Select(r => r.EntityHash), Is.All.Null, "no id column, no entity hash");
            // PostgreSQL keeps microseconds, SQLite the text of every tick.
            Assert.That(stored.Select(r => r.CreatedAt).Distinct().Count(), Is.EqualTo(1));
            Assert.That(stored[0].CreatedAt, Is.EqualTo(report.StartedAt).Within(TimeSpan.FromMilliseconds(1)));
            Assert.That(stored.Select(r => (r.SchemaVersion, r.ImportId)).Distinct(), Is.EqualTo(new[] { (1, report.ImportId) }));
        });
    }

    [Test]
    public async Task ImportRowsAsync_WhenTheSchemaHasAnIdColumn_StoresEachRowsEntityHashForItsLookUp()
    {
        var dataset = await _harness.Data.CreateDatasetAsync(new CreateDatasetRequest(
            "entities",
            [new("id", ColumnType.Categorical, Nullable: false, ColumnRole.Id), new("x", ColumnType.Numeric)]));

        await _harness.Data.ImportRowsAsync(
            dataset.Id,
            Csv("id,x", i => $"c-{i},{i}"),
            new ImportOptions(ImportFormat.Csv));

        var stored = await StoredAsync(dataset.Id);
        var found = await _harness.Data.FindRowByEntityIdAsync(dataset.Id, "c-17");
        Assert.Multiple(() =>
        {
            Assert.That(stored.Select(r => r.EntityHash).Distinct().Count(h => h is not null), Is.EqualTo(Rows));
            Assert.That(found?.Values["x"], Is.EqualTo(17d));
        });
    }

    private sealed class StoredRowView
    {
        public long RowNumber { get; set; }

        public long? EntityHash { get; set; }

        public DateTimeOffset CreatedAt { get; set; }

        public int SchemaVersion { get; set; }

        public string ImportId { get; set; } = "";
    }
}
