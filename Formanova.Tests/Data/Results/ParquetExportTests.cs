using System.Text;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Parquet;
using static Formanova.Tests.Data.Import.ColumnarFixtures;

namespace Formanova.Tests.Data.Results;

/// <summary>The Parquet writers behind the dataset and batch-result exports, through <see cref="IDataModule"/>, on each provider.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class ParquetExportTests(DatabaseProvider provider)
{
    private DataHarness _harness = null!;

    private IDataModule Data => _harness.Data;

    [SetUp]
    public async Task SetUp() => _harness = await DataHarness.CreateAsync(provider, [new("Data:ExportRowGroupRows", "4")]);

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    [Test]
    public async Task ExportPredictionsAsParquet_WritesEveryStoredPredictionInRowOrderWithNulls()
    {
        await Data.StorePredictionsAsync("job-p", 1, [new(30, "true", null, 0.3), new(40, null, 2.5, null)]);
        await Data.StorePredictionsAsync("job-p", 0, [new(10, "false", null, -0.1), new(20, "true", null, 0.2)]);
        await Data.StorePredictionsAsync("job-other", 0, [new(10, "x", 1, 1)]);

        using var output = new MemoryStream();
        await Data.ExportPredictionsAsParquetAsync("job-p", output);
        var rows = await ReadParquetAsync(output.ToArray());

        Assert.Multiple(() =>
        {
            Assert.That(rows.Select(r => r["rowId"]), Is.EqualTo(new object[] { 10L, 20L, 30L, 40L }));
            Assert.That(rows.Select(r => r["label"]), Is.EqualTo(new object?[] { "false", "true", "true", null }));
            Assert.That(rows.Select(r => r["value"]), Is.EqualTo(new object?[] { null, null, null, 2.5 }));
            Assert.That(rows.Select(r => r["score"]), Is.EqualTo(new object?[] { -0.1, 0.2, 0.3, null }));
        });
    }

    [Test]
    public async Task ExportAsParquet_WhenRowsExceedOneRowGroup_WritesThemInRowGroupsOfTheConfiguredSize()
    {
        var dataset = await Data.CreateDatasetAsync(new CreateDatasetRequest(
            $"export-{Guid.NewGuid():N}",
            [new("x", ColumnType.Numeric), new("when", ColumnType.Datetime)]));
        var csv = new StringBuilder("x,when\n");
        for (var i = 0; i < 10; i++)
        {
            csv.Append(i).Append(",2024-01-0").Append((i % 9) + 1).Append("T10:00:00.123456Z\n");
        }

        await Data.ImportRowsAsync(
            dataset.Id,
            new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())),
            new ImportOptions(ImportFormat.Csv));

        using var output = new MemoryStream();
        await Data.ExportAsync(dataset.Id, ExportFormat.Parquet, output);
        output.Position = 0;
        await using var reader = await ParquetReader.CreateAsync(output);
        var rows = await ReadParquetAsync(output.ToArray());

        Assert.Multiple(() =>
        {
            Assert.That(reader.RowGroupCount, Is.EqualTo(3), "10 rows in row groups of 4");
            Assert.That(rows.Select(r => r["x"]), Is.EqualTo(Enumerable.Range(0, 10).Select(i => (object)(double)i)));
            Assert.That(rows[0]["when"], Is.EqualTo(new DateTime(2024, 1, 1, 10, 0, 0, DateTimeKind.Utc).AddTicks(1_234_560)));
        });
    }
}
