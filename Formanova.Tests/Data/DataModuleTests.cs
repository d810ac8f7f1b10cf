using System.Text;
using System.Text.Json;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;
using Formanova.Tests.Support;

namespace Formanova.Tests.Data;

/// <summary>The <see cref="IDataModule"/> contract the workflows and the Model module use, on each provider.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class DataModuleTests(DatabaseProvider provider)
{
    private DataHarness _harness = null!;

    private IDataModule Data => _harness.Data;

    [SetUp]
    public async Task SetUp()
        => _harness = await DataHarness.CreateAsync(provider, [new("Data:Import:MaxRows", "5000"), new("Data:StreamChunkRows", "3")]);

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    private static MemoryStream Text(string text) => new(Encoding.UTF8.GetBytes(text));

    private static readonly IReadOnlyList<ColumnDefinition> Houses =
    [
        new("id", ColumnType.Numeric, Nullable: false, ColumnRole.Id),
        new("area", ColumnType.Numeric),
        new("rooms", ColumnType.Numeric),
        new("city", ColumnType.Categorical),
        new("built", ColumnType.Datetime),
        new("garden", ColumnType.Boolean),
        new("price", ColumnType.Numeric, Role: ColumnRole.Label),
    ];

    private const string HouseRows = "id,area,rooms,city,built,garden,price\n"
        + "1,50,2,Lyon,2001-05-01,true,200\n"
        + "2,,3,Lyon,,false,300\n"
        + "3,100,,Paris,2010-01-01T12:00:00+02:00,,500\n"
        + "4,80,4,,1999-12-31,true,\n";

    private async Task<long> HousesAsync()
    {
        var dataset = await Data.CreateDatasetAsync(new CreateDatasetRequest($"houses-{Guid.NewGuid():N}", Houses));
        var report = await Data.ImportRowsAsync(dataset.Id, Text(HouseRows), new ImportOptions(ImportFormat.Csv, "houses-1"));
        Assert.That(report.RowsAccepted, Is.EqualTo(4));
        return dataset.Id;
    }

    [Test]
    public async Task ListImportsAsync_WhenImportsWereCommittedOrRejected_ListsTheCommittedNewestFirstWithTheirRowErrors()
    {
        var id = await HousesAsync();
        var bad = "id,area,rooms,city,built,garden,price\n5,x,1,Lyon,,true,1\n6,60,1,Lyon,,true,2\n";
        var skipped = await Data.ImportRowsAsync(id, Text(bad), new ImportOptions(ImportFormat.Csv, "houses-2", ImportErrorMode.Skip));
        var rejected = await Data.ImportRowsAsync(id, Text(bad), new ImportOptions(ImportFormat.Csv, "houses-3"));

        var imports = await Data.ListImportsAsync(id, 10);

        Assert.That(rejected.Status, Is.EqualTo(ImportStatus.Rejected));
        Assert.That(imports.Select(i => i.ImportId), Is.EqualTo(new[] { "houses-2", "houses-1" }));
        Assert.That(imports[0].RowsRejected, Is.EqualTo(skipped.RowsRejected).And.EqualTo(1));
        Assert.That(imports[0].Errors.Single().Column, Is.EqualTo("area"));
        Assert.That((await Data.ListImportsAsync(id, 1)).Single().ImportId, Is.EqualTo("houses-2"));
        Assert.That(
            () => Data.ListImportsAsync(id + 1000, 10),
            Throws.TypeOf<ModuleException>().With.Property(nameof(ModuleException.Kind)).EqualTo(ErrorKind.NotFound));
    }

    private static async Task<List<object?[]>> ToListAsync(IAsyncEnumerable<object?[]> rows)
    {
        var list = new List<object?[]>();
        await foreach (var row in rows)
        {
            list.Add(row);
        }

        return list;
    }

    [Test]
    public async Task OpenRowStreamAsync_WhenNoTransforms_YieldsTypedValuesInColumnOrder()
    {
        var id = await HousesAsync();

        var stream = await Data.OpenRowStreamAsync(id);
        var rows = await ToListAsync(stream.Rows);

        Assert.Multiple(() =>
        {
            Assert.That(stream.Columns.Select(c => (c.Name, c.Type, c.Role)), Is.EqualTo(Houses.Select(c => (c.Name, c.Type, c.Role))));
            Assert.That(rows, Has.Count.EqualTo(4));
            Assert.That(
                rows[0],
                Is.EqualTo(new object?[] { 1.0, 50.0, 2.0, "Lyon", new DateTimeOffset(2001, 5, 1, 0, 0, 0, TimeSpan.Zero), true, 200.0 }));
            Assert.That(rows[2][4], Is.EqualTo(new DateTimeOffset(2010, 1, 1, 10, 0, 0, TimeSpan.Zero)));
            Assert.That(((DateTimeOffset)rows[2][4]!).Offset, Is.EqualTo(TimeSpan.Zero));
            Assert.That(rows[1][1], Is.Null);
        });
    }

    [Test]
    public async Task OpenRowStreamAsync_WhenFillCastAndDerive_AppliesThemInOrder()
    {
        var id = await HousesAsync();
        TransformStep[] steps =
        [
            new(TransformOp.Fill, Column: "area", Fill: FillStrategy.Mean),
            new(TransformOp.Fill, Column: "city", Fill: FillStrategy.Mode),
            new(TransformOp.Fill, Column: "rooms", Fill: FillStrategy.Constant, Value: JsonSerializer.SerializeToElement(1)),
            new(TransformOp.Cast, Column: "garden", Type: ColumnType.Numeric),
            new(TransformOp.Derive, NewName: "area per room", Expression: "area / rooms"),
            new(TransformOp.Filter, Expression: "price != null and built >= \"2000-01-01\""),
        ];

        var stream = await Data.OpenRowStreamAsync(id, steps);
        var rows = await ToListAsync(stream.Rows);

        Assert.Multiple(() =>
        {
            Assert.That(stream.Columns[^1], Is.EqualTo(new RowStreamColumn("area per room", ColumnType.Numeric, ColumnRole.Feature)));
            Assert.That(stream.Columns.Single(c => c.Name == "garden").Type, Is.EqualTo(ColumnType.Numeric));
            Assert.That(rows.Select(r => r[0]), Is.EqualTo(new object[] { 1.0, 3.0 }), "row 2 has no built date, row 4 no price");
            Assert.That(rows[1][1], Is.EqualTo(100.0));
            Assert.That(rows[1][2], Is.EqualTo(1.0), "constant fill");
            Assert.That(rows[1][5], Is.Null, "a missing boolean stays missing after a cast");
            Assert.That(rows[0][5], Is.EqualTo(1.0));
            Assert.That(rows[1][7], Is.EqualTo(100.0));
        });

        var filledArea = await ToListAsync((await Data.OpenRowStreamAsync(id, steps[..2])).Rows);
        Assert.Multiple(() =>
        {
            Assert.That(filledArea[1][1], Is.EqualTo((50.0 + 100 + 80) / 3), "mean of the present values");
            Assert.That(filledArea[3][3], Is.EqualTo("Lyon"), "mode");
        });
    }

    [Test]
    public async Task OpenRowStreamAsync_WhenSplitWithSameSeed_PartitionsRowsTheSameWayEveryTime()
    {
        var id = await HousesAsync();
        TransformStep Split(SplitSubset subset, int seed) => new(TransformOp.Split, Seed: seed, TestFraction: 0.5, Subset: subset);

        var train = await ToListAsync((await Data.OpenRowStreamAsync(id, [Split(SplitSubset.Train, 42)])).Rows);
        var test = await ToListAsync((await Data.OpenRowStreamAsync(id, [Split(SplitSubset.Test, 42)])).Rows);
        var trainAgain = await ToListAsync((await Data.OpenRowStreamAsync(id, [Split(SplitSubset.Train, 42)])).Rows);

        Assert.Multiple(() =>
        {
            Assert.That(train.Count + test.Count, Is.EqualTo(4));
            Assert.That(train.Select(r => r[0]).Intersect(test.Select(r => r[0])), Is.Empty);
            Assert.That(trainAgain.Select(r => r[0]), Is.EqualTo(train.Select(r => r[0])));
        });
    }

    [TestCase(TransformOp.Rename, "nope", null, "transforms[0].column")]
    [TestCase(TransformOp.Rename, "city", "area", "transforms[0].newName")]
    [TestCase(TransformOp.Derive, null, "x", "transforms[0].expression")]
    [TestCase(TransformOp.Fill, "city", null, "transforms[0].fill")]
    [TestCase(TransformOp.Split, null, null, "transforms[0].testFraction")]
    public async Task OpenRowStreamAsync_WhenAStepIsIncomplete_ThrowsInvalidNamingTheField(
        TransformOp op,
        string? column,
        string? newName,
        string field)
    {
        var id = await HousesAsync();

        var ex = Assert.ThrowsAsync<ModuleException>(
            () => Data.OpenRowStreamAsync(id, [new TransformStep(op, Column: column, NewName: newName)]));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Kind, Is.EqualTo(ErrorKind.Invalid));
            Assert.That(ex.Errors.Keys, Does.Contain(field));
        });
    }

    private static string ManyRows(int count, int? badAt = null) =>
        "id,area\n" + string.Join("\n", Enumerable.Range(1, count).Select(i => i == badAt ? $"{i},not-a-number" : $"{i},{i}"));

    [TestCase(ImportErrorMode.Reject, 0)]
    [TestCase(ImportErrorMode.Skip, 1299)]
    public async Task ImportRowsAsync_WhenABadRowFollowsSeveralWrittenBatches_RejectStoresNothingAndSkipStoresTheRest(
        ImportErrorMode mode,
        long expectedRows)
    {
        var dataset = await Data.CreateDatasetAsync(new CreateDatasetRequest($"batches-{mode}", Houses));

        var report = await Data.ImportRowsAsync(
            dataset.Id,
            Text(ManyRows(1300, badAt: 1250)),
            new ImportOptions(ImportFormat.Csv, OnError: mode));
        var stored = await ToListAsync((await Data.OpenRowStreamAsync(dataset.Id)).Rows);

        Assert.Multiple(async () =>
        {
            Assert.That(report.RowsRejected, Is.EqualTo(1));
            Assert.That(report.Errors.Single().Row, Is.EqualTo(1250));
            Assert.That(stored, Has.Count.EqualTo(expectedRows));
            Assert.That((await Data.GetDatasetAsync(dataset.Id)).RowCount, Is.EqualTo(expectedRows));
        });
    }

    [Test]
    public async Task ImportRowsAsync_WhenMoreRowsThanMaxRows_ThrowsTooLargeAndStoresNothing()
    {
        var dataset = await Data.CreateDatasetAsync(new CreateDatasetRequest("many", Houses));
        var csv = ManyRows(5001);

        var ex = Assert.ThrowsAsync<ModuleException>(
            () => Data.ImportRowsAsync(dataset.Id, Text(csv), new ImportOptions(ImportFormat.Csv, OnError: ImportErrorMode.Skip)));

        Assert.Multiple(async () =>
        {
            Assert.That(ex!.Kind, Is.EqualTo(ErrorKind.TooLarge));
            Assert.That((await Data.GetDatasetAsync(dataset.Id)).RowCount, Is.Zero);
        });
    }

    [Test]
    public async Task ImportRowsAsync_WhenTwoAttemptsWithOneIdRunAtOnce_StoresTheRowsOnce()
    {
        var dataset = await Data.CreateDatasetAsync(new CreateDatasetRequest("race", Houses));

        var reports = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ =>
            Data.ImportRowsAsync(dataset.Id, Text(HouseRows), new ImportOptions(ImportFormat.Csv, "same-id"))));
        var stream = await ToListAsync((await Data.OpenRowStreamAsync(dataset.Id)).Rows);

        Assert.Multiple(async () =>
        {
            Assert.That(reports.Count(r => !r.Replayed), Is.EqualTo(1));
            Assert.That(stream, Has.Count.EqualTo(4));
            Assert.That((await Data.GetDatasetAsync(dataset.Id)).RowCount, Is.EqualTo(4));
        });
    }

    [Test]
    public async Task ValidatePredictionInputAsync_WhenValid_ReturnsTypedFeaturesOnly()
    {
        var id = await HousesAsync();
        var input = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(
            """{"area": 70, "rooms": 3, "city": "Nice", "built": "2020-01-01T00:00:00Z", "garden": false, "id": 9}""")!;

        var result = await Data.ValidatePredictionInputAsync(id, input);

        Assert.Multiple(() =>
        {
            Assert.That(result.IsValid, Is.True);
            Assert.That(result.Errors, Is.Empty);
            Assert.That(result.Features, Is.EquivalentTo(new Dictionary<string, object?>
            {
                ["area"] = 70.0,
                ["rooms"] = 3.0,
                ["city"] = "Nice",
                ["built"] = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero),
                ["garden"] = false,
            }));
        });
    }

    [Test]
    public async Task ValidatePredictionInputAsync_WhenRequiredFeatureIsMissing_ReportsIt()
    {
        var dataset = await Data.CreateDatasetAsync(new CreateDatasetRequest(
            "strict",
            [new("x", ColumnType.Numeric, Nullable: false), new("y", ColumnType.Numeric, Role: ColumnRole.Label)]));

        var result = await Data.ValidatePredictionInputAsync(dataset.Id, new Dictionary<string, JsonElement>());

        Assert.That(result.Errors.Select(e => (e.Column, e.Reason)), Is.EqualTo(new[] { ((string?)"x", "required") }));
    }

    [Test]
    public async Task FindRowByEntityIdAsync_WhenNumericId_MatchesItsText()
    {
        var id = await HousesAsync();

        var row = await Data.FindRowByEntityIdAsync(id, "3");

        Assert.That(row!.Values["city"], Is.EqualTo("Paris"));
    }

    [Test]
    public async Task FindRowByEntityIdAsync_WhenDatasetHasNoIdColumn_ThrowsUnprocessable()
    {
        var dataset = await Data.CreateDatasetAsync(new CreateDatasetRequest("no-id", [new("x", ColumnType.Numeric)]));

        var ex = Assert.ThrowsAsync<ModuleException>(() => Data.FindRowByEntityIdAsync(dataset.Id, "1"));

        Assert.That(ex!.Kind, Is.EqualTo(ErrorKind.Unprocessable));
    }

    private static RecordResultRequest Result(
        string job,
        string step,
        ResultStatus status,
        DateTimeOffset started,
        string model = "churn") => new(
        job, step, status, started, started.AddMilliseconds(250), $"wf-{job}", model, "3",
        JsonSerializer.SerializeToElement(new { x = 1 }), JsonSerializer.SerializeToElement(
            new { score = 0.7 }), status == ResultStatus.Failed ? "boom" : null);

    [Test]
    public async Task RecordResultAsync_WhenRetried_KeepsOneRowAndTheFirstSuccess()
    {
        var t0 = new DateTimeOffset(2026, 11, 1, 10, 0, 0, TimeSpan.Zero);

        var failed = await Data.RecordResultAsync(Result("job-1", "predict", ResultStatus.Failed, t0));
        var succeeded = await Data.RecordResultAsync(Result("job-1", "predict", ResultStatus.Succeeded, t0.AddSeconds(5)));
        var lateRetry = await Data.RecordResultAsync(Result("job-1", "predict", ResultStatus.Failed, t0.AddSeconds(9)));
        var page = await Data.QueryResultsAsync(new ResultQuery(JobId: "job-1"));

        Assert.Multiple(() =>
        {
            Assert.That(failed.Status, Is.EqualTo(ResultStatus.Failed));
            Assert.That(succeeded.Id, Is.EqualTo(failed.Id));
            Assert.That(succeeded.Status, Is.EqualTo(ResultStatus.Succeeded));
            Assert.That(lateRetry.Status, Is.EqualTo(ResultStatus.Succeeded));
            Assert.That(lateRetry.StartedAt, Is.EqualTo(t0.AddSeconds(5)));
            Assert.That(page.Items, Has.Count.EqualTo(1));
            Assert.That(page.Items[0].DurationMs, Is.EqualTo(250));
            Assert.That(page.Items[0].Output!.Value.GetProperty("score").GetDouble(), Is.EqualTo(0.7));
        });
    }

    [Test]
    public async Task QueryResultsAsync_WhenFilteredByModelAndTime_PagesNewestFirst()
    {
        var t0 = new DateTimeOffset(2026, 11, 1, 10, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 5; i++)
        {
            await Data.RecordResultAsync(
                Result($"job-{i}", "predict", ResultStatus.Succeeded, t0.AddMinutes(i), i % 2 == 0 ? "churn" : "fraud"));
        }

        var churn = await Data.QueryResultsAsync(new ResultQuery(Model: "churn", Limit: 2));
        var next = await Data.QueryResultsAsync(new ResultQuery(Model: "churn", Limit: 2, Cursor: churn.NextCursor));
        var window = await Data.QueryResultsAsync(new ResultQuery(From: t0.AddMinutes(1), To: t0.AddMinutes(3)));

        Assert.Multiple(() =>
        {
            Assert.That(churn.Items.Select(r => r.JobId), Is.EqualTo(new[] { "job-4", "job-2" }));
            Assert.That(next.Items.Select(r => r.JobId), Is.EqualTo(new[] { "job-0" }));
            Assert.That(next.NextCursor, Is.Null);
            Assert.That(window.Items.Select(r => r.JobId), Is.EqualTo(new[] { "job-2", "job-1" }));
        });
    }

    [Test]
    public void RecordResultAsync_WhenJobIdIsMissing_ThrowsInvalid()
    {
        var ex = Assert.ThrowsAsync<ModuleException>(
            () => Data.RecordResultAsync(new RecordResultRequest("", "s", ResultStatus.Running, DateTimeOffset.UtcNow)));

        Assert.That(ex!.Errors.Keys, Does.Contain("jobId"));
    }
}
