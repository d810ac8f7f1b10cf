using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using static Formanova.Tests.Data.DataTestSupport;

namespace Formanova.Tests.Data.Schema;

/// <summary>Column patterns run in linear time: what cannot is refused when a schema is written, or named when one is stored.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class ColumnPatternTests(DatabaseProvider provider)
{
    private const string PatternField = "columns[1].constraints.pattern";

    private HostedDatabase? _host;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        _host = await HostedDatabase.StartAsync(provider);
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

    private static List<ColumnDefinition> Columns(string pattern) =>
    [
        new("id", ColumnType.Numeric, Nullable: false, ColumnRole.Id),
        new("code", ColumnType.Text, Constraints: new ColumnConstraints(Pattern: pattern)),
    ];

    private static async Task<JsonElement> AssertPatternProblemAsync(HttpResponseMessage response, HttpStatusCode status, string expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(status), body);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.That(problem.GetProperty("errors").TryGetProperty(PatternField, out var reasons), Is.True, body);
        Assert.That(reasons[0].GetString(), Does.Contain(expected), body);
        return problem;
    }

    // The reason names the construct as the engine reports it, before the general list of what is not supported.
    [TestCase(@"([A-Z])\1", "cannot run 'backreference")]
    [TestCase(@"(?=[A-Z])\w+", "cannot run 'positive lookahead")]
    [TestCase(@"\w+(?<!x)", "cannot run 'negative lookahead (?! pattern) or negative lookbehind")]
    [TestCase(@"(?>a+)b", "cannot run 'atomic")]
    [TestCase(@"(?(a)ab|b)", "cannot run 'test conditional")]
    public async Task CreateDataset_WhenThePatternNeedsBacktracking_Returns400NamingThePatternAndTheConstruct(
        string pattern,
        string construct)
    {
        var response = await _client.PostAsJsonAsync(
            "/api/v1/datasets",
            new CreateDatasetRequest($"backtracking-{Guid.NewGuid():N}", Columns(pattern)),
            Json);

        await AssertPatternProblemAsync(response, HttpStatusCode.BadRequest, construct);
    }

    [Test]
    public async Task UpdateSchema_WhenThePatternNeedsBacktracking_Returns400AndKeepsTheVersion()
    {
        var dataset = await CreateAsync(_client, columns: Columns("[a-z]+"));

        var response = await _client.PutAsJsonAsync(
            $"/api/v1/datasets/{dataset.Id}/schema",
            new UpdateSchemaRequest(Columns(@"(\w)\1")),
            Json);
        var after = await _client.GetFromJsonAsync<DatasetDetails>($"/api/v1/datasets/{dataset.Id}", Json);

        await AssertPatternProblemAsync(response, HttpStatusCode.BadRequest, "cannot run 'backreference");
        Assert.That(after!.SchemaVersion, Is.EqualTo(1));
    }

    [Test]
    public async Task CreateDataset_WhenThePatternIsLongerThanTheLimit_Returns400()
    {
        var response = await _client.PostAsJsonAsync(
            "/api/v1/datasets",
            new CreateDatasetRequest("long-pattern", Columns(new string('a', 1001))),
            Json);

        await AssertPatternProblemAsync(response, HttpStatusCode.BadRequest, "at most 1000 characters");
    }

    [Test]
    public async Task CreateDataset_WhenCountsExpandBeyondTheEngine_Returns400()
    {
        var response = await _client.PostAsJsonAsync(
            "/api/v1/datasets",
            new CreateDatasetRequest("huge-counts", Columns("(a{100}){100}")),
            Json);

        await AssertPatternProblemAsync(response, HttpStatusCode.BadRequest, "too large");
    }

    [Test]
    public async Task ImportRows_WhenThePatternBacktracksCatastrophicallyOnItsValues_ChecksEveryValueExactly()
    {
        // (a+)+b on a run of a's without the b is exponential for a backtracking engine: each such value used up
        // the 100 ms budget and was reported as "took too long", and the import took that long per row.
        var dataset = await CreateAsync(_client, columns: Columns("(a+)+b"));
        var csv = "id,code\n" + string.Concat(
            Enumerable.Range(1, 60).Select(i => i % 2 == 0 ? $"{i},{new string('a', 30)}b\n" : $"{i},{new string('a', 30)}!\n"));

        var response = await _client.PostAsync($"/api/v1/datasets/{dataset.Id}/rows?onError=skip", Csv(csv));
        var report = await response.Content.ReadFromJsonAsync<ImportReport>(Json);

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(report!.RowsAccepted, Is.EqualTo(30));
            Assert.That(report.ErrorCounts, Is.EqualTo(new Dictionary<string, long> { ["pattern"] = 30 }));
            Assert.That(report.Errors.Select(e => e.Message), Has.All.Contains("does not match the pattern"));
        });
    }

    [Test]
    public async Task ImportRows_WhenAStoredSchemaHasAPatternTheEngineCannotRun_Returns422NamingThePatternUntilTheSchemaIsFixed()
    {
        // A schema stored before patterns had to run without backtracking: planted as such a release would have kept it.
        var dataset = await CreateAsync(_client, columns: Columns("[A-Z]+"));
        await using (var connection = await _host!.Database.Database.OpenConnectionAsync())
        {
            var stored = DataJson.Serialize(Columns("(?=[A-Z])[A-Z]+"));
            await connection.ExecuteAsync(
                "UPDATE data_schema_versions SET columns = @Columns WHERE dataset_id = @Id",
                new { Columns = stored, dataset.Id });
        }

        var import = await _client.PostAsync($"/api/v1/datasets/{dataset.Id}/rows", Csv("id,code\n1,AB\n"));
        var validate = await _client.PostAsJsonAsync(
            $"/api/v1/datasets/{dataset.Id}/validate-input",
            new Dictionary<string, object> { ["code"] = "AB" },
            Json);
        var rows = await _client.GetAsync($"/api/v1/datasets/{dataset.Id}/rows");
        var fix = await _client.PutAsJsonAsync($"/api/v1/datasets/{dataset.Id}/schema", new UpdateSchemaRequest(Columns("[A-Z]+")), Json);
        var retry = await _client.PostAsync($"/api/v1/datasets/{dataset.Id}/rows", Csv("id,code\n1,AB\n"));

        var problem = await AssertPatternProblemAsync(import, HttpStatusCode.UnprocessableEntity, "cannot run 'positive lookahead");
        await AssertPatternProblemAsync(validate, HttpStatusCode.UnprocessableEntity, "cannot run 'positive lookahead");
        Assert.Multiple(() =>
        {
            Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("'code'").And.Contain("Update the schema"));
            Assert.That(rows.StatusCode, Is.EqualTo(HttpStatusCode.OK), "reads do not need the pattern");
            Assert.That(fix.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(retry.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        });
    }
}
