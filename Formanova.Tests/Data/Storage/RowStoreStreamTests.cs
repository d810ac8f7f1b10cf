using System.Text;
using Dapper;
using Formanova.Modules.Data;
using Formanova.Modules.Data.Storage;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;

namespace Formanova.Tests.Data.Storage;

/// <summary>The keyset-chunked training read: every row once and in order, and a chunk query the planner bounds.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class RowStoreStreamTests(DatabaseProvider provider)
{
    private const int ChunkRows = 100;

    private static readonly IReadOnlyList<ColumnDefinition> Columns =
    [
        new("id", ColumnType.Numeric, Nullable: false, ColumnRole.Id),
        new("x", ColumnType.Numeric),
    ];

    private DataHarness _harness = null!;

    [SetUp]
    public async Task SetUp() => _harness = await DataHarness.CreateAsync(
        provider,
        [new("Data:StreamChunkRows", ChunkRows.ToString(System.Globalization.CultureInfo.InvariantCulture))]);

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    private async Task ImportAsync(long datasetId, int from, int count)
    {
        var csv = "id,x\n" + string.Concat(Enumerable.Range(from, count).Select(i => $"{i},{i * 0.5}\n"));
        var report = await _harness.Data
            .ImportRowsAsync(datasetId, new MemoryStream(Encoding.UTF8.GetBytes(csv)), new ImportOptions(ImportFormat.Csv));
        Assert.That(report.RowsAccepted, Is.EqualTo(count));
    }

    private async Task<List<double>> StreamIdsAsync(long datasetId)
    {
        var ids = new List<double>();
        await foreach (var row in (await _harness.Data.OpenRowStreamAsync(datasetId)).Rows)
        {
            ids.Add((double)row[0]!);
        }

        return ids;
    }

    [TestCase(ChunkRows * 2)]
    [TestCase((ChunkRows * 2) + 1)]
    [TestCase(ChunkRows - 1)]
    public async Task OpenRowStreamAsync_WhenImportsOfTwoDatasetsInterleave_YieldsEachRowOfOneExactlyOnceInOrder(int secondImportRows)
    {
        var a = (await _harness.Data.CreateDatasetAsync(new CreateDatasetRequest("a", Columns))).Id;
        var b = (await _harness.Data.CreateDatasetAsync(new CreateDatasetRequest("b", Columns))).Id;
        await ImportAsync(a, 1, ChunkRows + 7);
        await ImportAsync(b, 1, ChunkRows * 3);
        await ImportAsync(a, ChunkRows + 8, secondImportRows);

        var ids = await StreamIdsAsync(a);

        Assert.That(ids, Is.EqualTo(Enumerable.Range(1, ChunkRows + 7 + secondImportRows).Select(i => (double)i)));
    }

    [Test]
    public async Task ImportRowsAsync_WhenADatasetSpansManyChunks_ChunkQueryIsAnOrderedIndexScanWithoutSort()
    {
        if (provider != DatabaseProvider.Postgres)
        {
            Assert.Ignore("Plans are PostgreSQL's; SQLite always walks the (dataset_id, id) key in order.");
        }

        // A bulk load without fresh statistics made the planner sort every remaining row of the dataset per chunk.
        var dataset = (await _harness.Data.CreateDatasetAsync(new CreateDatasetRequest("big", Columns))).Id;
        await ImportAsync(dataset, 1, 20_000);

        await using var connection = await _harness.Database.Database.OpenConnectionAsync(CancellationToken.None);
        var plan = string.Join("\n", await connection.QueryAsync<string>(
            "EXPLAIN " + RowStore.SelectChunk,
            new { DatasetId = dataset, After = 0L, Limit = ChunkRows }));

        Assert.That(plan, Does.Contain("Index Scan using data_rows_pkey").And.Not.Contain("Sort"), plan);
    }
}
