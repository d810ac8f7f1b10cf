using System.Text;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;

namespace Formanova.Tests.Data;

/// <summary>
/// The batch-inference side of <see cref="IDataModule"/>: chunk planning, ranged reads and stored predictions, on each
/// provider.
/// </summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class DataModuleBatchTests(DatabaseProvider provider)
{
    private DataHarness _harness = null!;

    private IDataModule Data => _harness.Data;

    [SetUp]
    public async Task SetUp() => _harness = await DataHarness.CreateAsync(provider);

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    private async Task<(long Id, List<long> RowIds)> DatasetAsync(int rows)
    {
        var dataset = await Data.CreateDatasetAsync(
            new CreateDatasetRequest($"batch-{Guid.NewGuid():N}", [new("x", ColumnType.Numeric), new("city", ColumnType.Categorical)]));
        var csv = new StringBuilder("x,city\n");
        for (var i = 0; i < rows; i++)
        {
            csv.Append(i).Append(",c").Append(i % 3).Append('\n');
        }

        if (rows > 0)
        {
            await Data.ImportRowsAsync(
                dataset.Id,
                new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())),
                new ImportOptions(ImportFormat.Csv));
        }

        var ids = new List<long>();
        for (long? cursor = null; ;)
        {
            var page = await Data.ReadRowsAsync(dataset.Id, cursor, 1000);
            ids.AddRange(page.Rows.Select(r => r.RowId));
            if ((cursor = page.NextCursor) is null)
            {
                return (dataset.Id, ids);
            }
        }
    }

    [TestCase(7, 3, 3)]
    [TestCase(6, 3, 2)]
    [TestCase(6, 10, 1)]
    [TestCase(3, 1, 3)]
    public async Task PlanRowChunksAsync_WhenRead_CoversEveryRowOnceInOrder(int rows, int chunkSize, int chunks)
    {
        var (id, rowIds) = await DatasetAsync(rows);

        var plan = await Data.PlanRowChunksAsync(id, chunkSize);
        var read = new List<RowChunk>();
        foreach (var cursor in plan.Cursors)
        {
            read.Add(await Data.ReadRowChunkAsync(id, cursor, chunkSize));
        }

        Assert.Multiple(() =>
        {
            Assert.That(plan.TotalRows, Is.EqualTo(rows));
            Assert.That(plan.Cursors, Has.Count.EqualTo(chunks));
            Assert.That(plan.Cursors[0], Is.Zero);
            Assert.That(read.SelectMany(c => c.RowIds), Is.EqualTo(rowIds));
            Assert.That(
                read.SelectMany(c => c.Rows).Select(r => r[0]),
                Is.EqualTo(Enumerable.Range(0, rows).Select(i => (object)(double)i)));
            Assert.That(read[0].Columns.Select(c => c.Name), Is.EqualTo(new[] { "x", "city" }));
        });
    }

    [Test]
    public async Task PlanRowChunksAsync_WhenTheDatasetIsEmpty_PlansNoChunk()
    {
        var (id, _) = await DatasetAsync(0);

        var plan = await Data.PlanRowChunksAsync(id, 5);

        Assert.Multiple(() =>
        {
            Assert.That(plan.TotalRows, Is.Zero);
            Assert.That(plan.Cursors, Is.Empty);
        });
    }

    [Test]
    public async Task StorePredictionsAsync_WhenAChunkIsStoredAgain_KeepsOneCopyInRowOrder()
    {
        await Data.StorePredictionsAsync("job-a", 1, [new(30, "true", null, 0.3), new(40, "false", null, -0.4)]);
        await Data.StorePredictionsAsync("job-a", 0, [new(10, "true", null, 0.1), new(20, null, 2.5, null)]);
        await Data.StorePredictionsAsync("job-b", 0, [new(10, "x", 1, 1)]);

        // A retried chunk (its first attempt's rows were stored, its completion was lost) writes its rows again.
        await Data.StorePredictionsAsync("job-a", 1, [new(30, "false", null, -0.31), new(40, "false", null, -0.4)]);
        var stored = await Data.ReadPredictionsAsync("job-a").ToListAsync();

        Assert.That(stored, Is.EqualTo(new StoredPrediction[]
        {
            new(10, "true", null, 0.1), new(20, null, 2.5, null), new(30, "false", null, -0.31), new(40, "false", null, -0.4),
        }));
    }

    [Test]
    public async Task StorePredictionsAsync_WhenAChunkHoldsManyRows_ReadsThemAllBack()
    {
        var rows = Enumerable.Range(1, 1234).Select(i => new StoredPrediction(i, i % 2 == 0 ? "true" : "false", null, i / 1000.0)).ToList();

        await Data.StorePredictionsAsync("job-big", 3, rows);
        await Data.StorePredictionsAsync("job-big", 3, rows);
        var count = 0;
        await foreach (var row in Data.ReadPredictionsAsync("job-big"))
        {
            Assert.That(row, Is.EqualTo(rows[count++]));
        }

        Assert.That(count, Is.EqualTo(1234));
    }

    /// <summary>12 rows: x = i, null every fourth row; city c0, c1, c2 in turn.</summary>
    private async Task<(long Id, List<long> RowIds)> WithNullsAsync()
    {
        var (id, _) = await DatasetAsync(0);
        var csv = new StringBuilder("x,city\n");
        for (var i = 0; i < 12; i++)
        {
            var x = i % 4 == 0 ? "" : i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            csv.Append(x).Append(",c").Append(i % 3).Append('\n');
        }

        await Data.ImportRowsAsync(id, new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())), new ImportOptions(ImportFormat.Csv));
        var page = await Data.ReadRowsAsync(id, null, 100);
        return (id, [.. page.Rows.Select(r => r.RowId)]);
    }

    [Test]
    public async Task ReadRowChunkAsync_WithFrozenTransforms_FillsWithTheDatasetsMeanDropsFilteredRowsAndKeepsSourceIds()
    {
        var (id, rowIds) = await WithNullsAsync();
        var frozen = await Data.FreezeTransformsAsync(id, [
            new TransformStep(TransformOp.Fill, Column: "x", Fill: FillStrategy.Mean),
            new TransformStep(TransformOp.Filter, Expression: "city != \"c0\""),
        ]);
        var plan = await Data.PlanRowChunksAsync(id, 5);

        var ids = new List<long>();
        var xs = new List<double?>();
        foreach (var cursor in plan.Cursors)
        {
            var chunk = await Data.ReadRowChunkAsync(id, cursor, 5, frozen);
            ids.AddRange(chunk.RowIds);
            xs.AddRange(chunk.Rows.Select(r => (double?)r[0]));
        }

        // The mean of the 9 values present (1, 2, 3, 5, 6, 7, 9, 10, 11), whichever chunk a null lies in.
        var mean = 54 / 9.0;
        Assert.Multiple(() =>
        {
            Assert.That(frozen[0].Fill, Is.EqualTo(FillStrategy.Constant));
            Assert.That(frozen[0].Value!.Value.GetDouble(), Is.EqualTo(mean));
            Assert.That(ids, Is.EqualTo(Enumerable.Range(0, 12).Where(i => i % 3 != 0).Select(i => rowIds[i])), "source ids, c0 dropped");
            Assert.That(xs, Is.EqualTo(Enumerable.Range(0, 12).Where(i => i % 3 != 0).Select(i => i % 4 == 0 ? mean : (double?)i)));
        });
    }

    [Test]
    public async Task ReadRowChunkAsync_WhenAFillByMeanIsNotFrozen_IsRefused()
    {
        var (id, _) = await WithNullsAsync();

        var ex = Assert.ThrowsAsync<Formanova.Modules.Shared.Errors.ModuleException>(
            () => Data.ReadRowChunkAsync(id, 0, 5, [new TransformStep(TransformOp.Fill, Column: "x", Fill: FillStrategy.Mean)]));

        Assert.That(ex!.Errors.Keys, Is.EqualTo(new[] { "transforms" }));
    }

    [Test]
    public async Task CountDistinctAsync_WhenCounted_StopsPastTheCapAndCountsAfterTransforms()
    {
        var (id, _) = await WithNullsAsync();

        var all = await Data.CountDistinctAsync(id, "city", 5);
        var capped = await Data.CountDistinctAsync(id, "city", 2);
        var filtered = await Data.CountDistinctAsync(id, "city", 5, [new TransformStep(TransformOp.Filter, Expression: "city != \"c0\"")]);
        var numbers = await Data.CountDistinctAsync(id, "x", 100);
        var unknown = Assert.ThrowsAsync<Formanova.Modules.Shared.Errors.ModuleException>(() => Data.CountDistinctAsync(id, "y", 5));

        Assert.Multiple(() =>
        {
            Assert.That((all.Count, all.MoreThanCap, all.RowsRead), Is.EqualTo((3, false, 12L)));
            Assert.That(all.Values, Is.EqualTo(new[] { "c0", "c1", "c2" }));
            Assert.That((capped.Count, capped.MoreThanCap, capped.RowsRead), Is.EqualTo((2, true, 3L)), "stops at the third value");
            Assert.That(filtered.Values, Is.EqualTo(new[] { "c1", "c2" }));
            Assert.That((numbers.Count, numbers.Type), Is.EqualTo((9, ColumnType.Numeric)), "nulls are not a value");
            Assert.That(unknown!.Errors.Keys, Is.EqualTo(new[] { "column" }));
        });
    }
}
