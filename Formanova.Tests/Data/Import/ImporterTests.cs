using System.Net;
using System.Net.Http.Json;
using System.Text;
using Dapper;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using static Formanova.Tests.Data.DataTestSupport;

namespace Formanova.Tests.Data.Import;

/// <summary>An import never holds the write lock while it waits, and nothing of it is visible before it completes.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class ImporterTests(DatabaseProvider provider)
{
    private HostedDatabase? _host;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        // Small batches, and a short busy timeout so that a writer blocked behind the import fails in seconds.
        _host = await HostedDatabase.StartAsync(
            provider,
            [new("Data:Import:CommitRows", "500"), new("Database:CommandTimeoutSeconds", "5")]);
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

    private static readonly IReadOnlyList<ColumnDefinition> Columns =
    [
        new("id", ColumnType.Numeric, Nullable: false, ColumnRole.Id),
        new("code", ColumnType.Text, Constraints: new ColumnConstraints(Pattern: "(a+)+b")),
        new("note", ColumnType.Text),
    ];

    private static string Rows(int from, int count) => string.Concat(Enumerable.Range(from, count).Select(i =>
        // Every 1000th code makes a backtracking engine run out its budget; the rest match.
        $"{i},{(i % 1000 == 0 ? new string('a', 28) + "!" : "aaab")},{new string('n', 100)}\n"));

    [Test]
    public async Task ImportRows_WhileALongImportWaitsForItsUpload_EventPublishAndDatasetCreationCompleteAndSeeNoneOfItsRows()
    {
        var dataset = await CreateAsync(_client, columns: Columns);
        // 2 MB before the pause: far beyond what the in-memory transport and the parser buffer (about 200 KB), so
        // the host has parsed most of it and written many batches when the test acts.
        var upload = new PausedUpload("id,code,note\n" + Rows(1, 20_000), Rows(20_001, 5_000));
        // The default test client buffers a request body (to replay it on a redirect): this one streams it.
        using var streaming = _host!.Factory
            .CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var import = streaming.PostAsync($"/api/v1/datasets/{dataset.Id}/rows?onError=skip", upload);
        try
        {
            await upload.FirstPartWritten.Task.WaitAsync(TimeSpan.FromMinutes(2));

            var publish = await _client.PostAsJsonAsync("/api/v1/events", new { type = "IMPORT_NEIGHBOUR", source = "/tests/importer" });
            var create = await _client.PostAsJsonAsync(
                "/api/v1/datasets",
                new CreateDatasetRequest($"neighbour-{Guid.NewGuid():N}", Columns),
                Json);
            var midway = await _client.GetFromJsonAsync<RowPage>($"/api/v1/datasets/{dataset.Id}/rows?limit=10", Json);
            var midwayCount = (await _client.GetFromJsonAsync<DatasetDetails>($"/api/v1/datasets/{dataset.Id}", Json))!.RowCount;
            long written;
            await using (var connection = await _host.Database.Database.OpenConnectionAsync())
            {
                written = await connection.ExecuteScalarAsync<long>(
                    "SELECT COUNT(*) FROM data_rows WHERE dataset_id = @Id",
                    new { dataset.Id });
            }

            Assert.Multiple(async () =>
            {
                Assert.That(publish.StatusCode, Is.EqualTo(HttpStatusCode.Created), await publish.Content.ReadAsStringAsync());
                Assert.That(create.StatusCode, Is.EqualTo(HttpStatusCode.Created), await create.Content.ReadAsStringAsync());
                Assert.That(import.IsCompleted, Is.False, "both finished while the import was still waiting for its upload");
                Assert.That(written, Is.GreaterThan(0), "the import has committed batches");
                Assert.That(midway!.Rows, Is.Empty, "rows of an unfinished import are invisible");
                Assert.That(midwayCount, Is.Zero);
            });
        }
        finally
        {
            upload.Release.TrySetResult();
        }

        var response = await import;
        var report = await response.Content.ReadFromJsonAsync<ImportReport>(Json);
        var stored = await _client.GetFromJsonAsync<DatasetDetails>($"/api/v1/datasets/{dataset.Id}", Json);

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(report!.RowsAccepted, Is.EqualTo(24_975));
            Assert.That(report.ErrorCounts, Is.EqualTo(new Dictionary<string, long> { ["pattern"] = 25 }));
            Assert.That(stored!.RowCount, Is.EqualTo(24_975));
        });
    }

    /// <summary>A CSV upload sent in two parts: the second only once the test releases it.</summary>
    private sealed class PausedUpload : HttpContent
    {
        private readonly byte[] _first;
        private readonly byte[] _rest;

        public PausedUpload(string first, string rest)
        {
            _first = Encoding.UTF8.GetBytes(first);
            _rest = Encoding.UTF8.GetBytes(rest);
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/csv");
        }

        /// <summary>Set once the host has taken the first part (the transport holds back a writer it has not read from).</summary>
        public TaskCompletionSource FirstPartWritten { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync(_first);
            await stream.FlushAsync();
            FirstPartWritten.TrySetResult();
            await Release.Task;
            await stream.WriteAsync(_rest);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
