using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using static Formanova.Tests.Data.DataTestSupport;

namespace Formanova.Tests.Data.Api;

/// <summary>The dataset REST surface through the real host, on each storage provider.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class DatasetEndpointsTests(DatabaseProvider provider)
{
    private HostedDatabase? _host;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        _host = await HostedDatabase.StartAsync(provider, [
            new("Data:Import:MaxFieldChars", "1000"), new(
            "Data:Import:MaxUploadBytes",
            "200000"), new("Data:Import:MaxReportedErrors", "3")
        ]);
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

    private const string GoodRows = PeopleHeader + "\r\n"
        + "p1,34,FR,true,2024-01-02T03:04:05Z,\"hello, world\",AB-12,false\r\n"
        + "p2,51.5,DE,no,,\"multi\nline\",,true\r\n"
        + "p3,0,,1,2024-02-01,\"say \"\"hi\"\"\",CD-3,\r\n";

    private async Task<HttpResponseMessage> ImportAsync(long id, HttpContent content, string query = "") =>
        await _client.PostAsync($"/api/v1/datasets/{id}/rows{query}", content);

    private async Task<ImportReport> ImportOkAsync(long id, HttpContent content, string query = "")
    {
        var response = await ImportAsync(id, content, query);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<ImportReport>(Json))!;
    }

    private async Task<RowPage> RowsAsync(long id, string query = "")
    {
        var response = await _client.GetAsync($"/api/v1/datasets/{id}/rows{query}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<RowPage>(Json))!;
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string expectedText)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(status), body);
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
            Assert.That(body, Does.Contain(expectedText));
        });
    }

    private async Task AssertNoRowsAsync(long id)
    {
        var page = await RowsAsync(id);
        var dataset = await _client.GetFromJsonAsync<DatasetDetails>($"/api/v1/datasets/{id}", Json);
        Assert.Multiple(() =>
        {
            Assert.That(page.Rows, Is.Empty);
            Assert.That(dataset!.RowCount, Is.Zero);
        });
    }

    [Test]
    public async Task CreateDataset_WhenSchemaIsValid_ReturnsItWithVersionOneAndLocation()
    {
        var response = await _client.PostAsJsonAsync(
            "/api/v1/datasets",
            new CreateDatasetRequest("people-created", PeopleColumns, "desc", RequireLabel: true),
            Json);
        var created = await response.Content.ReadFromJsonAsync<DatasetDetails>(Json);
        var fetched = await _client.GetFromJsonAsync<DatasetDetails>($"/api/v1/datasets/{created!.Id}", Json);
        var list = await _client.GetFromJsonAsync<List<DatasetSummary>>("/api/v1/datasets", Json);

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
            Assert.That(response.Headers.Location!.ToString(), Is.EqualTo($"/api/v1/datasets/{created.Id}"));
            Assert.That(fetched!.SchemaVersion, Is.EqualTo(1));
            Assert.That(fetched.Columns, Is.EqualTo(PeopleColumns).Using<ColumnDefinition>(SameColumn));
            Assert.That(fetched.Versions.Select(v => v.Version), Is.EqualTo(new[] { 1 }));
            Assert.That(fetched.RequireLabel, Is.True);
            Assert.That(list!.Select(d => d.Name), Does.Contain("people-created"));
        });
    }

    private static bool SameColumn(ColumnDefinition a, ColumnDefinition b) =>
        a.Name == b.Name && a.Type == b.Type && a.Nullable == b.Nullable && a.Role == b.Role
        && a.Constraints?.Min == b.Constraints?.Min && a.Constraints?.Max == b.Constraints?.Max
        && a.Constraints?.Pattern == b.Constraints?.Pattern && a.Constraints?.MaxLength == b.Constraints?.MaxLength
        && (a.Constraints?.AllowedValues ?? []).SequenceEqual(b.Constraints?.AllowedValues ?? []);

    [Test]
    public async Task CreateDataset_WhenNameIsTaken_Returns409()
    {
        await CreateAsync(_client, "taken-name");

        var response = await _client.PostAsJsonAsync("/api/v1/datasets", new CreateDatasetRequest("taken-name", PeopleColumns), Json);

        await AssertProblemAsync(response, HttpStatusCode.Conflict, "already exists");
    }

    [Test]
    public async Task CreateDataset_WhenLabelIsUsedTwice_Returns400NamingBothColumns()
    {
        var columns = new List<ColumnDefinition>(PeopleColumns) { new("second label", ColumnType.Numeric, Role: ColumnRole.Label) };

        var response = await _client.PostAsJsonAsync("/api/v1/datasets", new CreateDatasetRequest("two-labels", columns), Json);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "'churned', 'second label'");
    }

    [Test]
    public async Task CreateDataset_WhenLabelIsRequiredButMissing_Returns400()
    {
        var columns = PeopleColumns.Where(c => c.Role != ColumnRole.Label).ToList();

        var response = await _client.PostAsJsonAsync(
            "/api/v1/datasets",
            new CreateDatasetRequest("no-label", columns, RequireLabel: true),
            Json);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "requires a label column");
    }

    [Test]
    public async Task CreateDataset_WhenConstraintsContradict_Returns400PerField()
    {
        var columns = new List<ColumnDefinition>
        {
            new("a", ColumnType.Numeric, Constraints: new ColumnConstraints(Min: 5, Max: 1)),
            new("a", ColumnType.Text, Constraints: new ColumnConstraints(Pattern: "([")),
            new("c", ColumnType.Boolean, Constraints: new ColumnConstraints(MaxLength: 3)),
        };

        var response = await _client.PostAsJsonAsync("/api/v1/datasets", new CreateDatasetRequest("bad-constraints", columns), Json);
        var errors = (await JsonBodyAsync(response)).GetProperty("errors");

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(errors.TryGetProperty("columns[0].constraints.min", out _), Is.True, errors.ToString());
            Assert.That(errors.TryGetProperty("columns[1].name", out _), Is.True, errors.ToString());
            Assert.That(errors.TryGetProperty("columns[1].constraints.pattern", out _), Is.True, errors.ToString());
            Assert.That(errors.TryGetProperty("columns[2].constraints", out _), Is.True, errors.ToString());
        });
    }

    [Test]
    public async Task CreateDataset_WhenTypeIsUnknown_Returns400()
    {
        var response = await _client.PostAsync(
            "/api/v1/datasets",
            new StringContent("""{"name":"x","columns":[{"name":"a","type":"complex"}]}""", Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task UnknownDataset_OnEveryEndpoint_Returns404()
    {
        var responses = new[]
        {
            await _client.GetAsync("/api/v1/datasets/999999"),
            await _client.DeleteAsync("/api/v1/datasets/999999"),
            await _client.GetAsync("/api/v1/datasets/999999/rows"),
            await _client.GetAsync("/api/v1/datasets/999999/export?format=csv"),
            await ImportAsync(999999, Csv(GoodRows)),
            await _client.PostAsJsonAsync("/api/v1/datasets/999999/validate-input", new Dictionary<string, object>(), Json),
        };

        Assert.That(responses.Select(r => r.StatusCode), Has.All.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task ImportRows_WhenCsvIsValid_StoresTypedValuesIncludingQuotesAndEmbeddedNewlines()
    {
        var dataset = await CreateAsync(_client);

        var report = await ImportOkAsync(dataset.Id, Csv(GoodRows));
        var page = await RowsAsync(dataset.Id);

        Assert.Multiple(() =>
        {
            Assert.That(report.Status, Is.EqualTo(ImportStatus.Committed));
            Assert.That(report.RowsAccepted, Is.EqualTo(3));
            Assert.That(page.Rows, Has.Count.EqualTo(3));
            var first = page.Rows[0].Values;
            Assert.That(((JsonElement)first["âge"]!).GetDouble(), Is.EqualTo(34));
            Assert.That(((JsonElement)first["note, free"]!).GetString(), Is.EqualTo("hello, world"));
            Assert.That(
                ((JsonElement)first["joined"]!).GetDateTimeOffset(),
                Is.EqualTo(new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero)));
            Assert.That(((JsonElement)first["member"]!).GetBoolean(), Is.True);
            Assert.That(((JsonElement)page.Rows[1].Values["note, free"]!).GetString(), Is.EqualTo("multi\nline"));
            Assert.That(page.Rows[1].Values["joined"], Is.Null);
            Assert.That(((JsonElement)page.Rows[2].Values["note, free"]!).GetString(), Is.EqualTo("say \"hi\""));
            Assert.That(page.Rows[0].ImportId, Is.EqualTo(report.ImportId));
            Assert.That(page.Rows[0].SchemaVersion, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task ImportRows_WhenCsvHasBomAndSemicolonDelimiter_ParsesIt()
    {
        var dataset = await CreateAsync(_client);
        var text = GoodRows.Replace(",", ";", StringComparison.Ordinal)
            .Replace("\"hello; world\"", "\"hello, world\"", StringComparison.Ordinal)
            .Replace("\"note; free\"", "\"note, free\"", StringComparison.Ordinal);
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes(text)).ToArray();

        var report = await ImportOkAsync(dataset.Id, Bytes(bytes, "text/csv"), "?delimiter=;");

        Assert.That(report.RowsAccepted, Is.EqualTo(3));
    }

    [Test]
    public async Task ImportRows_WhenSameImportIdIsRetried_DoesNotDoubleTheRows()
    {
        var dataset = await CreateAsync(_client);

        var first = await ImportOkAsync(dataset.Id, Csv(GoodRows), "?importId=batch-7");
        var second = await ImportOkAsync(dataset.Id, Csv(GoodRows), "?importId=batch-7");
        var page = await RowsAsync(dataset.Id);

        Assert.Multiple(() =>
        {
            Assert.That(first.Replayed, Is.False);
            Assert.That(second.Replayed, Is.True);
            Assert.That(second.RowsAccepted, Is.EqualTo(3));
            Assert.That(page.Rows, Has.Count.EqualTo(3));
        });
    }

    [Test]
    public async Task ImportRows_WhenIdempotencyKeyHeaderIsRepeated_DoesNotDoubleTheRows()
    {
        var dataset = await CreateAsync(_client);
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/datasets/{dataset.Id}/rows") { Content = Csv(GoodRows) };
            request.Headers.Add("Idempotency-Key", "header-key");
            var response = await _client.SendAsync(request);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        Assert.That((await RowsAsync(dataset.Id)).Rows, Has.Count.EqualTo(3));
    }

    private const string BadRows = PeopleHeader + "\n"
        + "p1,34,FR,true,,,,\n"
        + "p2,abc,FR,true,,,,\n"          // wrong type
        + "p3,200,FR,true,,,,\n"          // above max
        + "p4,30,ES,true,,,,\n"           // not allowed
        + "p5,30,FR,maybe,,,,\n"          // wrong type (boolean)
        + "p6,30,FR,true,,this note is far too long for it,,\n" // maxLength
        + "p7,30,FR,true,,,zz-1,\n"       // pattern
        + ",30,FR,true,,,,\n"             // required
        + "p9,30,FR\n"                    // wrong column count
        + "p10,31,US,false,2020-01-01,,XY-9,true\n";

    [Test]
    public async Task ImportRows_WhenRowsAreInvalidAndModeIsReject_Returns422WithReportAndStoresNothing()
    {
        var dataset = await CreateAsync(_client);

        var response = await ImportAsync(dataset.Id, Csv(BadRows), "?onError=reject");
        var body = await JsonBodyAsync(response);
        var report = body.GetProperty("report").Deserialize<ImportReport>(Json)!;

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
            Assert.That(report.Status, Is.EqualTo(ImportStatus.Rejected));
            Assert.That(report.RowsRead, Is.EqualTo(10));
            Assert.That(report.RowsAccepted, Is.EqualTo(2));
            Assert.That(report.RowsRejected, Is.EqualTo(8));
            Assert.That(report.Errors, Has.Count.EqualTo(3), "MaxReportedErrors is 3 in this fixture");
            Assert.That(report.Errors[0], Is.EqualTo(report.Errors[0] with { Row = 2, Column = "âge", Reason = "type" }));
            Assert.That(report.ErrorCounts, Is.EquivalentTo(new Dictionary<string, long>
            {
                ["type"] = 2,
                ["max"] = 1,
                ["allowedValues"] = 1,
                ["maxLength"] = 1,
                ["pattern"] = 1,
                ["required"] = 1,
                ["columnCount"] = 1,
            }));
        });
        await AssertNoRowsAsync(dataset.Id);
    }

    [Test]
    public async Task ImportRows_WhenRowsAreInvalidAndModeIsSkip_CommitsOnlyValidRows()
    {
        var dataset = await CreateAsync(_client);

        var report = await ImportOkAsync(dataset.Id, Csv(BadRows), "?onError=skip");
        var page = await RowsAsync(dataset.Id);

        Assert.Multiple(() =>
        {
            Assert.That(report.Status, Is.EqualTo(ImportStatus.Committed));
            Assert.That(report.RowsAccepted, Is.EqualTo(2));
            Assert.That(report.RowsRejected, Is.EqualTo(8));
            Assert.That(page.Rows.Select(r => ((JsonElement)r.Values["person id"]!).GetString()), Is.EqualTo(new[] { "p1", "p10" }));
        });
    }

    [TestCase("p1,34,\"FR,true,,,,\n", "Unbalanced quotes")]
    [TestCase("p1,34,F\"R,true,,,,\n", "quote appears inside an unquoted field")]
    [TestCase("p1,34,\"FR\"x,true,,,,\n", "follows the closing quote")]
    public async Task ImportRows_WhenCsvQuotesAreMalformed_Returns400AndStoresNothingEvenInSkipMode(string row, string expected)
    {
        var dataset = await CreateAsync(_client);

        var response = await ImportAsync(dataset.Id, Csv(PeopleHeader + "\np0,1,FR,true,,,,\n" + row), "?onError=skip");

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, expected);
        await AssertNoRowsAsync(dataset.Id);
    }

    [Test]
    public async Task ImportRows_WhenCsvIsNotUtf8_Returns400()
    {
        var dataset = await CreateAsync(_client);
        var bytes = Encoding.UTF8.GetBytes(PeopleHeader + "\np1,34,FR,true,,caf").Concat(new byte[] { 0xE9, 0x0A }).ToArray();

        var response = await ImportAsync(dataset.Id, Bytes(bytes, "text/csv"), "?onError=skip");

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "not valid UTF-8");
        await AssertNoRowsAsync(dataset.Id);
    }

    [TestCase("", "empty")]
    [TestCase(PeopleHeader + "\r\n", "no data rows")]
    [TestCase("person id,âge,âge\np1,3,4\n", "appears twice")]
    [TestCase("person id,âge,unknown\np1,3,4\n", "'unknown' (column 3) is not in the dataset schema")]
    [TestCase("âge\n3\n", "required column 'person id' is missing")]
    public async Task ImportRows_WhenCsvHeaderOrBodyIsUnusable_Returns400(string csv, string expected)
    {
        var dataset = await CreateAsync(_client);

        var response = await ImportAsync(dataset.Id, Csv(csv));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, expected);
        await AssertNoRowsAsync(dataset.Id);
    }

    [Test]
    public async Task ImportRows_WhenAFieldExceedsMaxFieldChars_Returns413()
    {
        var dataset = await CreateAsync(_client);

        var response = await ImportAsync(dataset.Id, Csv(PeopleHeader + $"\np1,34,FR,true,,{new string('x', 1001)},,\n"), "?onError=skip");

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "MaxFieldChars");
        await AssertNoRowsAsync(dataset.Id);
    }

    [Test]
    public async Task ImportRows_WhenUploadExceedsMaxUploadBytes_Returns413AndStoresNothing()
    {
        var dataset = await CreateAsync(_client);
        var csv = new StringBuilder(PeopleHeader + "\n");
        for (var i = 0; csv.Length < 250_000; i++)
        {
            csv.Append($"p{i},30,FR,true,,,,\n");
        }

        var response = await ImportAsync(dataset.Id, Csv(csv.ToString()), "?onError=skip");

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "larger than");
        await AssertNoRowsAsync(dataset.Id);
    }

    [Test]
    public async Task ImportRows_WhenJsonArrayOfObjects_ValidatesJsonTypes()
    {
        var dataset = await CreateAsync(_client);
        const string json = """
            [
              {"person id": "j1", "âge": 40, "country": "US", "member": false, "joined": "2023-05-06T07:08:09Z", "churned": true},
              {"person id": "j2", "âge": "40"},
              {"person id": "j3", "âge": 41, "surprise": 1}
            ]
            """;

        var report = await ImportOkAsync(dataset.Id, new StringContent(json, Encoding.UTF8, "application/json"), "?onError=skip");

        Assert.Multiple(() =>
        {
            Assert.That(report.RowsAccepted, Is.EqualTo(1));
            Assert.That(
                report.Errors.Select(e => (e.Row, e.Column, e.Reason)),
                Is.EqualTo(new[] { (2L, (string?)"âge", "type"), (3L, "surprise", "unknownColumn") }));
        });
    }

    [Test]
    public async Task ImportRows_WhenNdjson_ImportsEachLine()
    {
        var dataset = await CreateAsync(_client);
        const string ndjson = "{\"person id\":\"n1\",\"âge\":1}\n{\"person id\":\"n2\",\"âge\":2}\n";

        var report = await ImportOkAsync(dataset.Id, Bytes(Encoding.UTF8.GetBytes(ndjson), "application/x-ndjson"));

        Assert.That(report.RowsAccepted, Is.EqualTo(2));
    }

    [TestCase("""{"person id": "j1", "âge": 40}""", "must be a JSON array of objects")]
    [TestCase("""[{"person id": "j1", "âge": 40}, 5]""", "Item 2 is number, not an object")]
    [TestCase("""[[1, 2]]""", "Item 1 is array, not an object")]
    [TestCase("""[{"person id": "j1", "âge": 40}, {"person id": """, "Malformed JSON after item 1")]
    [TestCase("", "must be a JSON array of objects")]
    [TestCase("[]", "contains no rows")]
    public async Task ImportRows_WhenJsonIsNotAnArrayOfObjects_Returns400AndStoresNothing(string json, string expected)
    {
        var dataset = await CreateAsync(_client);

        var response = await ImportAsync(dataset.Id, new StringContent(json, Encoding.UTF8, "application/json"), "?onError=skip");

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, expected);
        await AssertNoRowsAsync(dataset.Id);
    }

    [Test]
    public async Task ImportRows_WhenJsonIsNotUtf8_Returns400AndStoresNothing()
    {
        var dataset = await CreateAsync(_client);
        var bytes = Encoding.UTF8.GetBytes("[{\"person id\": \"ok\", \"âge\": 1}, {\"person id\": \"caf")
            .Concat(new byte[] { 0xE9, 0x22, 0x7D, 0x5D })
            .ToArray();

        var response = await ImportAsync(dataset.Id, Bytes(bytes, "application/json"), "?onError=skip");

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "UTF-8");
        await AssertNoRowsAsync(dataset.Id);
    }

    [TestCase("""{"person id":"a"}""", "JSON array")]
    [TestCase("""[{"person id":"a"}, nope]""", "invalid JSON literal")]
    [TestCase("""[{"person id":"a\ud800"}]""", "lone UTF-16 surrogate")]
    public async Task ImportRows_WhenJsonIsNotAnArrayOfReadableObjects_Returns400SayingWhyWithoutDotNetTypeNames(string json, string reason)
    {
        var dataset = await CreateAsync(_client);

        var response = await ImportAsync(dataset.Id, new StringContent(json, Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, reason);
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Not.Contain("System."));
        await AssertNoRowsAsync(dataset.Id);
    }

    [Test]
    public async Task ImportRows_WhenMultipartFile_ImportsThePart()
    {
        var dataset = await CreateAsync(_client);
        using var form = new MultipartFormDataContent
        {
            { new StringContent("ignored"), "comment" },
            { new ByteArrayContent(Encoding.UTF8.GetBytes(GoodRows)), "file", "people.csv" },
        };

        var report = await ImportOkAsync(dataset.Id, form);

        Assert.That(report.RowsAccepted, Is.EqualTo(3));
    }

    [TestCase("rows")]
    [TestCase("infer-schema")]
    public async Task Upload_WhenTheMultipartBodyEndsBeforeItsClosingBoundary_Returns400AndStoresNothing(string endpoint)
    {
        var dataset = await CreateAsync(_client);
        var body = "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\nContent-Type: text/csv\r\n\r\n"
            + GoodRows;
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=XYZ");
        var url = endpoint == "rows" ? $"/api/v1/datasets/{dataset.Id}/rows" : "/api/v1/datasets/infer-schema";

        var response = await _client.PostAsync(url, content);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "multipart body is malformed");
        await AssertNoRowsAsync(dataset.Id);
    }

    [Test]
    public async Task ImportRows_WhenContentTypeIsNotCsvJsonOrMultipart_Returns415()
    {
        var dataset = await CreateAsync(_client);

        var response = await ImportAsync(dataset.Id, new StringContent(GoodRows, Encoding.UTF8, "text/plain"));

        await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "Unsupported Media Type");
    }

    [Test]
    public async Task ReadRows_WhenPaged_FollowsTheCursorToTheEnd()
    {
        var dataset = await CreateAsync(_client);
        await ImportOkAsync(dataset.Id, Csv(GoodRows));

        var first = await RowsAsync(dataset.Id, "?limit=2");
        var second = await RowsAsync(dataset.Id, $"?limit=2&cursor={first.NextCursor}");

        Assert.Multiple(() =>
        {
            Assert.That(first.Rows, Has.Count.EqualTo(2));
            Assert.That(first.NextCursor, Is.Not.Null);
            Assert.That(second.Rows, Has.Count.EqualTo(1));
            Assert.That(second.NextCursor, Is.Null);
        });
    }

    [Test]
    public async Task Export_WhenCsv_RoundTripsThroughImport()
    {
        var source = await CreateAsync(_client);
        await ImportOkAsync(source.Id, Csv(GoodRows));

        var exported = await _client.GetStringAsync($"/api/v1/datasets/{source.Id}/export?format=csv");
        var copy = await CreateAsync(_client);
        var report = await ImportOkAsync(copy.Id, Csv(exported));
        var original = await RowsAsync(source.Id);
        var copied = await RowsAsync(copy.Id);

        Assert.Multiple(() =>
        {
            Assert.That(exported, Does.StartWith(PeopleHeader + "\r\n"));
            Assert.That(report.RowsAccepted, Is.EqualTo(3));
            Assert.That(
                copied.Rows.Select(r => JsonSerializer.Serialize(r.Values)),
                Is.EqualTo(original.Rows.Select(r => JsonSerializer.Serialize(r.Values))));
        });
    }

    [Test]
    public async Task Export_WhenJson_WritesAnArrayOfTypedObjects()
    {
        var dataset = await CreateAsync(_client);
        await ImportOkAsync(dataset.Id, Csv(GoodRows));

        var response = await _client.GetAsync($"/api/v1/datasets/{dataset.Id}/export?format=json");
        var body = await JsonBodyAsync(response);

        Assert.Multiple(() =>
        {
            Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("application/json"));
            Assert.That(body.GetArrayLength(), Is.EqualTo(3));
            Assert.That(body[0].GetProperty("âge").GetDouble(), Is.EqualTo(34));
            Assert.That(body[0].GetProperty("churned").GetBoolean(), Is.False);
            Assert.That(body[2].GetProperty("churned").ValueKind, Is.EqualTo(JsonValueKind.Null));
        });
    }

    [Test]
    public async Task Export_WhenFormatIsUnknown_Returns400()
    {
        var dataset = await CreateAsync(_client);

        var response = await _client.GetAsync($"/api/v1/datasets/{dataset.Id}/export?format=xml");

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "csv, json or parquet");
    }

    [Test]
    public async Task DeleteDataset_WhenItHasRows_RemovesDatasetAndRows()
    {
        var dataset = await CreateAsync(_client);
        await ImportOkAsync(dataset.Id, Csv(GoodRows));

        var deleted = await _client.DeleteAsync($"/api/v1/datasets/{dataset.Id}");
        var after = await _client.GetAsync($"/api/v1/datasets/{dataset.Id}");
        var recreated = await CreateAsync(_client, dataset.Name);

        Assert.Multiple(() =>
        {
            Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
            Assert.That(after.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(recreated.RowCount, Is.Zero);
        });
    }

    [Test]
    public async Task UpdateSchema_WhenColumnsChange_OldRowsKeepTheirVersionAndReadInTheNewShape()
    {
        var dataset = await CreateAsync(_client);
        await ImportOkAsync(dataset.Id, Csv(GoodRows));
        var columns = PeopleColumns.Where(c => c.Name != "code")
            .Select(c => c.Name == "âge" ? c with { Type = ColumnType.Text, Constraints = null } : c)
            .Append(new ColumnDefinition("score", ColumnType.Numeric))
            .ToList();

        var response = await _client.PutAsJsonAsync($"/api/v1/datasets/{dataset.Id}/schema", new UpdateSchemaRequest(columns), Json);
        var updated = await response.Content.ReadFromJsonAsync<DatasetDetails>(Json);
        await ImportOkAsync(dataset.Id, Csv("person id,âge,score\nq1,forty,2.5\n"));
        var page = await RowsAsync(dataset.Id);

        Assert.Multiple(() =>
        {
            Assert.That(updated!.SchemaVersion, Is.EqualTo(2));
            Assert.That(updated.Versions, Has.Count.EqualTo(2));
            Assert.That(page.Rows.Select(r => r.SchemaVersion), Is.EqualTo(new[] { 1, 1, 1, 2 }));
            Assert.That(page.Rows[0].Values.ContainsKey("code"), Is.False);
            Assert.That(((JsonElement)page.Rows[0].Values["âge"]!).GetString(), Is.EqualTo("34"));
            Assert.That(page.Rows[0].Values["score"], Is.Null);
            Assert.That(((JsonElement)page.Rows[3].Values["score"]!).GetDouble(), Is.EqualTo(2.5));
        });
    }

    [Test]
    public async Task InferSchema_WhenCsvSample_ProposesTypesNullabilityAndRoles()
    {
        const string sample = "customer_id,age,plan,active,signed up,label,comment\n"
            + "c1,34,gold,true,2024-01-01,1,first\nc2,,silver,false,2024-02-01,0,second\nc3,51,gold,true,2024-03-01,1,third\n";

        var response = await _client.PostAsync("/api/v1/datasets/infer-schema", Csv(sample));
        var inferred = await response.Content.ReadFromJsonAsync<InferredSchema>(Json);

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(inferred!.SampledRows, Is.EqualTo(3));
            Assert.That(inferred.Columns.Select(c => (c.Name, c.Type, c.Role)), Is.EqualTo(new[]
            {
                ("customer_id", ColumnType.Categorical, ColumnRole.Id),
                ("age", ColumnType.Numeric, ColumnRole.Feature),
                ("plan", ColumnType.Categorical, ColumnRole.Feature),
                ("active", ColumnType.Boolean, ColumnRole.Feature),
                ("signed up", ColumnType.Datetime, ColumnRole.Feature),
                ("label", ColumnType.Boolean, ColumnRole.Label),
                ("comment", ColumnType.Categorical, ColumnRole.Feature),
            }));
            Assert.That(inferred.Columns.Single(c => c.Name == "age").Nullable, Is.True);
            Assert.That(inferred.Columns.Single(c => c.Name == "plan").Nullable, Is.False);
        });
    }

    [Test]
    public async Task InferSchema_WhenJsonSample_AcceptedAsIs_CreatesAWorkingDataset()
    {
        const string sample = """[{"id": 1, "price": 9.5, "when": "2024-01-01T00:00:00Z"}, {"id": 2, "price": null, "tag": "x"}]""";

        var inferred = await (await _client.PostAsync(
            "/api/v1/datasets/infer-schema",
            new StringContent(sample, Encoding.UTF8, "application/json")))
            .Content.ReadFromJsonAsync<InferredSchema>(Json);
        var created = await CreateAsync(_client, columns: inferred!.Columns);
        var report = await ImportOkAsync(created.Id, new StringContent(sample, Encoding.UTF8, "application/json"));

        Assert.Multiple(() =>
        {
            Assert.That(inferred.Columns.Select(c => (c.Name, c.Type, c.Nullable)), Is.EqualTo(new[]
            {
                ("id", ColumnType.Numeric, false), ("price", ColumnType.Numeric, true), ("when", ColumnType.Datetime, true),
                ("tag", ColumnType.Categorical, true),
            }));
            Assert.That(report.RowsAccepted, Is.EqualTo(2));
        });
    }

    [TestCase("application/json", "{\"a\": 1}", "must be a JSON array of objects")]
    [TestCase("text/csv", "", "empty")]
    [TestCase("text/csv", "a,a\n1,2\n", "appears twice")]
    [TestCase("text/csv", "a,b\n", "no data rows")]
    public async Task InferSchema_WhenSampleIsUnusable_Returns400(string contentType, string body, string expected)
    {
        var response = await _client.PostAsync("/api/v1/datasets/infer-schema", new StringContent(body, Encoding.UTF8, contentType));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, expected);
    }

    [Test]
    public async Task ValidateInput_WhenInputBreaksRules_ListsEveryProblem()
    {
        var dataset = await CreateAsync(_client);
        var input = new Dictionary<string, object?> { ["âge"] = 300, ["country"] = "XX", ["member"] = "yes", ["extra"] = 1 };

        var result = await (await _client.PostAsJsonAsync($"/api/v1/datasets/{dataset.Id}/validate-input", input, Json)).Content
            .ReadFromJsonAsync<PredictionValidation>(Json);

        Assert.Multiple(() =>
        {
            Assert.That(result!.IsValid, Is.False);
            Assert.That(result.Errors.Select(e => (e.Column, e.Reason)), Is.EquivalentTo(new[]
            {
                ((string?)"âge", "max"), ("country", "allowedValues"), ("member", "type"), ("extra", "unknownColumn"),
            }));
        });
    }

    [Test]
    public async Task FindEntity_WhenIdColumnMatches_ReturnsTheLatestRow()
    {
        var dataset = await CreateAsync(_client);
        await ImportOkAsync(dataset.Id, Csv(GoodRows));
        await ImportOkAsync(dataset.Id, Csv(PeopleHeader + "\np2,60,US,true,,,,\n"));

        var found = await _client.GetFromJsonAsync<DataRow>($"/api/v1/datasets/{dataset.Id}/entities/p2", Json);
        var missing = await _client.GetAsync($"/api/v1/datasets/{dataset.Id}/entities/nobody");

        Assert.Multiple(() =>
        {
            Assert.That(((JsonElement)found!.Values["âge"]!).GetDouble(), Is.EqualTo(60));
            Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        });
    }

    [Test]
    public async Task QueryAndMaterialize_WhenTransformsGiven_ReturnAndStoreTheTransformedRows()
    {
        var dataset = await CreateAsync(_client);
        await ImportOkAsync(dataset.Id, Csv(GoodRows));
        var transforms = new[]
        {
            new TransformStep(TransformOp.Filter, Expression: "[âge] > 10"),
            new TransformStep(TransformOp.Derive, NewName: "double age", Expression: "[âge] * 2"),
            new TransformStep(TransformOp.Rename, Column: "country", NewName: "land"),
        };

        var query = await JsonBodyAsync(
            await _client.PostAsJsonAsync($"/api/v1/datasets/{dataset.Id}/query", new TransformRequest(transforms), Json));
        var response = await _client.PostAsJsonAsync(
            $"/api/v1/datasets/{dataset.Id}/materialize",
            new MaterializeRequest($"derived-{Guid.NewGuid():N}", transforms),
            Json);
        var derived = await response.Content.ReadFromJsonAsync<DatasetDetails>(Json);
        var rows = await RowsAsync(derived!.Id);

        Assert.Multiple(() =>
        {
            Assert.That(query.GetProperty("rows").GetArrayLength(), Is.EqualTo(2));
            Assert.That(query.GetProperty("rows")[1].GetProperty("double age").GetDouble(), Is.EqualTo(103));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
            Assert.That(derived.DerivedFromId, Is.EqualTo(dataset.Id));
            Assert.That(derived.RowCount, Is.EqualTo(2));
            Assert.That(derived.Columns.Select(c => c.Name), Does.Contain("land").And.Contain("double age"));
            Assert.That(rows.Rows.Select(r => ((JsonElement)r.Values["double age"]!).GetDouble()), Is.EqualTo(new[] { 68.0, 103.0 }));
        });
    }

    [Test]
    public async Task Query_WhenExpressionIsIllTyped_Returns400BeforeReadingRows()
    {
        var dataset = await CreateAsync(_client);

        var response = await _client.PostAsJsonAsync($"/api/v1/datasets/{dataset.Id}/query",
            new TransformRequest([new TransformStep(TransformOp.Filter, Expression: "country > 3")]), Json);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "Cannot compare string with number");
    }
}
