using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Types;
using Formanova.Modules.Data;
using Formanova.Modules.Data.Import;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Parquet.Schema;
using static Formanova.Tests.Data.DataTestSupport;
using static Formanova.Tests.Data.Import.ColumnarFixtures;

namespace Formanova.Tests.Data.Api;

/// <summary>Parquet and Arrow IPC import, inference and export through the real host, on each storage provider.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class ColumnarEndpointsTests(DatabaseProvider provider)
{
    private const string ParquetType = "application/vnd.apache.parquet";
    private const long Wide = 9_007_199_254_740_993; // 2^53 + 1: the nearest double is 2^53.

    private HostedDatabase? _host;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        // Two-row row groups in exports, so a round trip crosses row groups; a small decode bound to test it.
        _host = await HostedDatabase.StartAsync(provider, [new("Data:ExportRowGroupRows", "2"), new("Data:Import:MaxBatchRows", "500")]);
        _client = _host.Client;
    }

    [OneTimeTearDown]
    public async Task OneTimeTearDown()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    [TearDown]
    public void NoSpooledCopyIsLeft()
    {
        var directory = _host!.Factory.Services.GetRequiredService<UploadSpool>().Directory;
        var left = Directory.Exists(directory) ? Directory.GetFiles(directory) : [];
        Assert.That(left, Is.Empty, "every spooled upload is deleted once its import or inference ends");
    }

    private static readonly IReadOnlyList<ColumnDefinition> Measures =
    [
        new("id", ColumnType.Categorical, Nullable: false, ColumnRole.Id),
        new("Culmen Length (mm)", ColumnType.Numeric, Constraints: new ColumnConstraints(Min: 0)),
        new("species", ColumnType.Categorical),
        new("seen", ColumnType.Datetime),
        new("tagged", ColumnType.Boolean),
        new("big", ColumnType.Numeric),
    ];

    private async Task<HttpResponseMessage> ImportAsync(long id, byte[] bytes, string contentType, string query = "") =>
        await _client.PostAsync($"/api/v1/datasets/{id}/rows{query}", Bytes(bytes, contentType));

    private async Task<ImportReport> ImportOkAsync(long id, byte[] bytes, string contentType, string query = "")
    {
        var response = await ImportAsync(id, bytes, contentType, query);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<ImportReport>(Json))!;
    }

    private async Task<List<IReadOnlyDictionary<string, object?>>> ValuesAsync(long id)
    {
        var page = await _client.GetFromJsonAsync<RowPage>($"/api/v1/datasets/{id}/rows?limit=1000", Json);
        return page!.Rows.Select(r => r.Values).ToList();
    }

    private async Task<InferredSchema> InferAsync(byte[] bytes, string contentType)
    {
        var response = await _client.PostAsync("/api/v1/datasets/infer-schema", Bytes(bytes, contentType));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<InferredSchema>(Json))!;
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(status), body);
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), body);
        });
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static string Raw(object? value) => ((JsonElement)value!).ToString();

    private static Task<byte[]> MeasuresParquetAsync(int rowGroupRows = int.MaxValue) => ParquetAsync(
        rowGroupRows,
        Column<long>("id", 1, 2, Wide),
        Column<float>("Culmen Length (mm)", 39.5f, null, float.NaN),
        Strings("species", "Adelie", "Gentoo", null),
        Column<DateTime>(
            new DateTimeDataField("seen", DateTimeFormat.Timestamp, true, DateTimeTimeUnit.Micros, isNullable: true),
            new DateTime(2024, 3, 1, 12, 30, 15, 250, DateTimeKind.Utc),
            null,
            new DateTime(1969, 7, 20, 20, 17, 0, DateTimeKind.Utc)),
        Column<bool>("tagged", true, false, null),
        Column<decimal>(new DecimalDataField("big", 20, 2, isNullable: true), 12345678901234.56m, -0.5m, null));

    [Test]
    public async Task ImportRows_FromParquetAcrossRowGroups_StoresTypedValuesNullsTimestampsAndExactWideInts()
    {
        var dataset = await CreateAsync(_client, columns: Measures);

        var report = await ImportOkAsync(dataset.Id, await MeasuresParquetAsync(rowGroupRows: 2), ParquetType);
        var rows = await ValuesAsync(dataset.Id);

        Assert.Multiple(() =>
        {
            Assert.That(report.RowsAccepted, Is.EqualTo(3));
            Assert.That(
                rows.Select(r => Raw(r["id"])),
                Is.EqualTo(new[] { "1", "2", "9007199254740993" }),
                "a wide int keeps every digit");
            Assert.That(((JsonElement)rows[0]["Culmen Length (mm)"]!).GetDouble(), Is.EqualTo(39.5));
            Assert.That(rows[1]["Culmen Length (mm)"], Is.Null);
            Assert.That(rows[2]["Culmen Length (mm)"], Is.Null, "NaN is a missing value");
            Assert.That(rows[2]["species"], Is.Null);
            Assert.That(
                ((JsonElement)rows[0]["seen"]!).GetDateTimeOffset(),
                Is.EqualTo(new DateTimeOffset(2024, 3, 1, 12, 30, 15, 250, TimeSpan.Zero)));
            Assert.That(((JsonElement)rows[2]["seen"]!).GetDateTimeOffset().Year, Is.EqualTo(1969));
            Assert.That(((JsonElement)rows[1]["tagged"]!).GetBoolean(), Is.False);
            Assert.That(((JsonElement)rows[0]["big"]!).GetDouble(), Is.EqualTo(12345678901234.56));
        });
    }

    [Test]
    public async Task InferSchema_FromParquet_MapsDeclaredTypesAndTakesNullabilityFromTheData()
    {
        var bytes = await ParquetAsync(
            Column<sbyte>("i8", 1, 2, 3),
            Column<short>("i16", 1, 2, 3),
            Column<int>("i32", 1, null, 3),
            Column<ulong>("u64", 1, 2, 3),
            Column<long>("wide", 1, 2, Wide),
            Column<double>("f64", 0.5, 1.5, 2.5),
            Column<decimal>(new DecimalDataField("money", 10, 2, isNullable: true), 1.25m, 2m, 3m),
            Column<bool>("flag", true, false, true),
            Strings("label", "a", "b", "a"),
            Strings("digits", "1", "2", "3"),
            Column<DateTime>(new DateTimeDataField("day", DateTimeFormat.Date, isNullable: true), DateTime.UtcNow.Date, null, null),
            Strings("empty", null, null, null));

        var inferred = await InferAsync(bytes, ParquetType);

        var columns = inferred.Columns.ToDictionary(c => c.Name);
        Assert.Multiple(() =>
        {
            Assert.That(inferred.SampledRows, Is.EqualTo(3));
            foreach (var name in new[] { "i8", "i16", "i32", "u64", "f64", "money" })
            {
                Assert.That(columns[name].Type, Is.EqualTo(ColumnType.Numeric), name);
            }

            Assert.That(columns["wide"].Type, Is.EqualTo(ColumnType.Categorical), "beyond 2^53 a double would lose digits");
            Assert.That(columns["flag"].Type, Is.EqualTo(ColumnType.Boolean));
            Assert.That(columns["label"].Type, Is.EqualTo(ColumnType.Categorical));
            Assert.That(columns["label"].Role, Is.EqualTo(ColumnRole.Label));
            Assert.That(columns["digits"].Type, Is.EqualTo(ColumnType.Categorical), "a string column stays a string column");
            Assert.That(columns["day"].Type, Is.EqualTo(ColumnType.Datetime));
            Assert.That(columns["empty"].Type, Is.EqualTo(ColumnType.Text));
            Assert.That(columns["i32"].Nullable, Is.True);
            Assert.That(columns["day"].Nullable, Is.True);
            Assert.That(columns["i8"].Nullable, Is.False, "an optional column without a null in the sample is proposed required");
        });
    }

    [Test]
    public async Task ExportParquet_ThenInferAndImport_GivesTheSameRowsAndTypes()
    {
        var source = await CreateAsync(_client);
        var csv = PeopleHeader + "\n"
            + "p1,34,FR,true,2024-01-02T03:04:05.123Z,\"hello, world\",AB-12,false\n"
            + "p2,51.5,DE,no,,,,true\n"
            + "p3,0,,1,1999-12-31,\"say \"\"hi\"\"\",CD-3,\n";
        Assert.That((await _client.PostAsync($"/api/v1/datasets/{source.Id}/rows", Csv(csv))).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var export = await _client.GetAsync($"/api/v1/datasets/{source.Id}/export?format=parquet");
        var bytes = await export.Content.ReadAsByteArrayAsync();
        var inferred = await InferAsync(bytes, ParquetType);
        var copy = await CreateAsync(_client, columns: PeopleColumns);
        await ImportOkAsync(copy.Id, bytes, ParquetType);

        var expected = await ValuesAsync(source.Id);
        var actual = await ValuesAsync(copy.Id);
        var written = await ReadParquetAsync(bytes);
        Assert.Multiple(() =>
        {
            Assert.That(export.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(export.Content.Headers.ContentType?.MediaType, Is.EqualTo(ParquetType));
            Assert.That(export.Content.Headers.ContentDisposition?.FileNameStar ?? export.Content.Headers.ContentDisposition?.FileName,
                Is.EqualTo($"dataset-{source.Id}.parquet"));
            Assert.That(written, Has.Count.EqualTo(3));
            Assert.That(written[1]["âge"], Is.EqualTo(51.5));
            Assert.That(JsonSerializer.Serialize(actual, Json), Is.EqualTo(JsonSerializer.Serialize(expected, Json)));
            var types = inferred.Columns.ToDictionary(c => c.Name, c => c.Type);
            Assert.That(types["âge"], Is.EqualTo(ColumnType.Numeric));
            Assert.That(types["member"], Is.EqualTo(ColumnType.Boolean));
            Assert.That(types["joined"], Is.EqualTo(ColumnType.Datetime));
            Assert.That(types["churned"], Is.EqualTo(ColumnType.Boolean));
            Assert.That(types["country"], Is.EqualTo(ColumnType.Categorical));
        });
    }

    [TestCase(true, "application/vnd.apache.arrow.file")]
    [TestCase(false, "application/vnd.apache.arrow.stream")]
    public async Task ImportRows_FromArrowIpc_StoresDictionaryStringsTimestampsDatesNullsAndWideInts(bool file, string contentType)
    {
        var columns = new List<ColumnDefinition>(Measures) { new("day", ColumnType.Datetime) };
        var dataset = await CreateAsync(_client, columns: columns);
        RecordBatch Batch(long id, string? species, double? length) => new RecordBatch.Builder()
            .Append("id", false, new Int64Array.Builder().Append(id))
            .Append("Culmen Length (mm)", true, new DoubleArray.Builder().Append(length))
            .Append("species", true, Species(species))
            .Append("seen", true, new TimestampArray.Builder(new TimestampType(TimeUnit.Millisecond, "Europe/Paris"))
                .Append(new DateTimeOffset(2024, 6, 1, 14, 0, 0, TimeSpan.FromHours(2))))
            .Append("day", true, new Date32Array.Builder().Append(new DateTime(2020, 2, 29)))
            .Build();
        var bytes = await ArrowAsync(file, Batch(Wide, "Chinstrap", 46.5), Batch(2, null, null));

        await ImportOkAsync(dataset.Id, bytes, contentType);
        var rows = await ValuesAsync(dataset.Id);

        Assert.Multiple(() =>
        {
            Assert.That(rows.Select(r => Raw(r["id"])), Is.EqualTo(new[] { "9007199254740993", "2" }));
            Assert.That(Raw(rows[0]["species"]), Is.EqualTo("Chinstrap"));
            Assert.That(rows[1]["species"], Is.Null);
            Assert.That(rows[1]["Culmen Length (mm)"], Is.Null);
            Assert.That(
                ((JsonElement)rows[0]["seen"]!).GetDateTimeOffset(),
                Is.EqualTo(new DateTimeOffset(2024, 6, 1, 12, 0, 0, TimeSpan.Zero)));
            Assert.That(
                ((JsonElement)rows[0]["day"]!).GetDateTimeOffset(),
                Is.EqualTo(new DateTimeOffset(2020, 2, 29, 0, 0, 0, TimeSpan.Zero)));
        });

        static IArrowArray Species(string? value)
        {
            var dictionary = new StringArray.Builder().Append("Adelie").Append("Chinstrap").Build();
            var indices = value is null ? new Int32Array.Builder().AppendNull().Build() : new Int32Array.Builder().Append(1).Build();
            return new DictionaryArray(new DictionaryType(Int32Type.Default, StringType.Default, false), indices, dictionary);
        }
    }

    [Test]
    public async Task ImportRows_FromParquetWithAnInvalidRow_RejectsOrSkipsItLikeCsv()
    {
        var dataset = await CreateAsync(_client, columns: Measures);
        var bytes = await ParquetAsync(
            Strings("id", "a", null, "c"),
            Column<double>("Culmen Length (mm)", 1, 2, -3));

        var rejected = await ImportAsync(dataset.Id, bytes, ParquetType);
        var problem = await ProblemAsync(rejected, HttpStatusCode.UnprocessableEntity);
        var skipped = await ImportOkAsync(dataset.Id, bytes, ParquetType, "?onError=skip");

        Assert.Multiple(() =>
        {
            var counts = problem.GetProperty("report").GetProperty("errorCounts");
            Assert.That(counts.GetProperty("required").GetInt32(), Is.EqualTo(1));
            Assert.That(counts.GetProperty("min").GetInt32(), Is.EqualTo(1));
            Assert.That(skipped.RowsAccepted, Is.EqualTo(1));
            Assert.That(
                skipped.Errors.Select(e => (e.Row, e.Column)),
                Is.EqualTo(new[] { (2L, (string?)"id"), (3L, "Culmen Length (mm)") }));
        });
    }

    [Test]
    public async Task ImportRows_WhenMultipartFileIsNamedParquet_DetectsTheFormat()
    {
        var dataset = await CreateAsync(_client, columns: Measures);
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(await MeasuresParquetAsync()), "file", "penguins.parquet" },
        };

        var response = await _client.PostAsync($"/api/v1/datasets/{dataset.Id}/rows", form);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    public static IEnumerable<TestCaseData> Damaged()
    {
        yield return Case("Parquet truncated", ParquetType, b => b[..^40], "not a complete Parquet file");
        yield return Case(
            "Parquet footer length beyond the file",
            ParquetType,
            b => [.. b[..^8], 0xFF, 0xFF, 0xFF, 0x7F, .. "PAR1"u8],
            "footer claims 2147483647 bytes");
        yield return Case("Parquet pages overwritten", ParquetType, b => Scramble(b, 4, b.Length / 2), "cannot be read");
        yield return Case("Arrow file truncated", "application/vnd.apache.arrow.file", _ => [.. "ARROW1"u8, 0, 0, 1, 2, 3], "truncated");
        yield return Case("Arrow stream garbage", "application/vnd.apache.arrow.stream", b => Scramble(b, 0, 64), "cannot be read");

        static TestCaseData Case(string name, string contentType, Func<byte[], byte[]> damage, string reason) =>
            new TestCaseData(contentType, damage, reason).SetName($"{{m}}({name})");
    }

    private static byte[] Scramble(byte[] bytes, int start, int end)
    {
        var copy = (byte[])bytes.Clone();
        var random = new Random(7);
        for (var i = start; i < end; i++)
        {
            copy[i] = (byte)random.Next(256);
        }

        return copy;
    }

    [TestCaseSource(nameof(Damaged))]
    public async Task ImportRowsAndInferSchema_WhenTheFileIsDamaged_Return400NamingTheReasonAndStoreNothing(
        string contentType,
        Func<byte[], byte[]> damage,
        string reason)
    {
        var dataset = await CreateAsync(_client, columns: Measures);
        var good = contentType == ParquetType
            ? await MeasuresParquetAsync()
            : await ArrowAsync(false, new RecordBatch.Builder().Append("id", false, new StringArray.Builder().Append("x")).Build());
        var bytes = damage(good);

        var import = await ProblemAsync(await ImportAsync(dataset.Id, bytes, contentType), HttpStatusCode.BadRequest);
        var infer = await ProblemAsync(
            await _client.PostAsync("/api/v1/datasets/infer-schema", Bytes(bytes, contentType)),
            HttpStatusCode.BadRequest);

        Assert.Multiple(() =>
        {
            Assert.That(import.GetProperty("detail").GetString(), Does.Contain(reason));
            Assert.That(infer.GetProperty("detail").GetString(), Does.Contain(reason));
        });
        Assert.That(await ValuesAsync(dataset.Id), Is.Empty);
    }

    private sealed class Nested
    {
        public int Id { get; set; }

        public List<int> Tags { get; set; } = [];
    }

    private sealed class Point
    {
        public double X { get; set; }
    }

    private sealed class WithStruct
    {
        public int Id { get; set; }

        public Point Where { get; set; } = new();
    }

    [Test]
    public async Task ImportRows_WhenAColumnIsNested_Returns400NamingTheColumn()
    {
        var dataset = await CreateAsync(_client, columns: [new("Id", ColumnType.Numeric)]);
        var list = await SerializedParquetAsync(new[] { new Nested { Id = 1, Tags = [1, 2] } });
        var structure = await SerializedParquetAsync(new[] { new WithStruct { Id = 1 } });
        var arrow = await ArrowAsync(
            true,
            new RecordBatch.Builder()
                .Append("Id", false, new Int32Array.Builder().Append(1))
                .Append("pairs", true, new ListArray.Builder(Int32Type.Default).Append().Build())
                .Build());

        var problems = new[]
        {
            await ProblemAsync(await ImportAsync(dataset.Id, list, ParquetType), HttpStatusCode.BadRequest),
            await ProblemAsync(await ImportAsync(dataset.Id, structure, ParquetType), HttpStatusCode.BadRequest),
            await ProblemAsync(await ImportAsync(dataset.Id, arrow, "application/vnd.apache.arrow.file"), HttpStatusCode.BadRequest),
        };

        Assert.Multiple(() =>
        {
            Assert.That(problems[0].GetProperty("detail").GetString(), Does.Contain("'Tags'").And.Contain("list"));
            Assert.That(problems[1].GetProperty("detail").GetString(), Does.Contain("'Where'").And.Contain("struct"));
            Assert.That(problems[2].GetProperty("detail").GetString(), Does.Contain("'pairs'").And.Contain("list"));
        });
    }

    [Test]
    public async Task ImportRows_WhenARowGroupExceedsTheDecodeBound_Returns413BeforeDecodingIt()
    {
        var dataset = await CreateAsync(_client, columns: [new("x", ColumnType.Numeric)]);
        var bytes = await ParquetAsync(Column<double>("x", Enumerable.Range(0, 501).Select(i => (double?)i).ToArray()));

        var problem = await ProblemAsync(await ImportAsync(dataset.Id, bytes, ParquetType), HttpStatusCode.RequestEntityTooLarge);

        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("Row group 1").And.Contain("Data:Import:MaxBatchRows"));
        Assert.That(await ValuesAsync(dataset.Id), Is.Empty);
    }

    [Test]
    public async Task ImportRows_WhenTheContentTypeIsNotAnUploadFormat_Returns415ListingTheAcceptedOnes()
    {
        var dataset = await CreateAsync(_client, columns: Measures);

        var problem = await ProblemAsync(
            await ImportAsync(dataset.Id, await MeasuresParquetAsync(), "application/octet-stream"),
            HttpStatusCode.UnsupportedMediaType);

        var accepted = problem.GetProperty("accepted").EnumerateArray().Select(a => a.GetString()).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(accepted, Is.SupersetOf(new[]
            {
                "text/csv", "application/json", "application/x-ndjson", ParquetType, "application/vnd.apache.arrow.file",
                "application/vnd.apache.arrow.stream", "multipart/form-data",
            }));
            Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("application/octet-stream").And.Contain(ParquetType));
        });
    }
}
