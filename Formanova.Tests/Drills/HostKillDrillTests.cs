using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;

namespace Formanova.Tests.Drills;

/// <summary>
/// The host, as a real process (<see cref="HostProcess"/>), is SIGKILLed in the middle of an import and in the
/// middle of a training run, then started again on the same data: no half of an import is ever visible, and the
/// run resumes.
/// </summary>
[Category("Integration")]
[Category("Drill")]
[NonParallelizable]
public sealed class HostKillDrillTests
{
    private const int AcknowledgedRows = 100;

    /// <summary>How much the database must have grown under the killed import: hundreds of thousands of rows.</summary>
    private const long WrittenBeforeKill = 16L * 1024 * 1024;

    [TestCaseSource(typeof(TestDatabase), nameof(TestDatabase.ProviderCases))]
    public async Task Import_WhenTheHostIsKilledMidImport_ShowsNoRowOfItAndARetryImportsItOnce(DatabaseProvider provider)
    {
        await using var database = await TestDatabase.CreateAsync(provider);
        var settings = database.Settings.Append(new("Model:Bootstrap:Enabled", "false")).ToList();
        long dataset;
        long written;
        long uploaded;
        var started = Stopwatch.StartNew();
        await using (var first = await HostProcess.StartAsync(database.DataDirectory, settings))
        {
            dataset = await CreateDatasetAsync(first.Client);
            var acknowledged = await ImportAsync(first.Client, dataset, "a", Csv("a", AcknowledgedRows));
            Assert.That((long)acknowledged["rowsAccepted"]!, Is.EqualTo(AcknowledgedRows));

            // The kill comes once the import has written rows by the megabyte: it is mid-import, not before or after.
            var baseline = await StoredBytesAsync(database);
            using var upload = new EndlessCsv("b");
            var sending = first.Client.PostAsync($"/api/v1/datasets/{dataset}/rows?importId=b", upload);
            await LocalProcesses.UntilAsync(
                async () => sending.IsCompleted || await StoredBytesAsync(database) - baseline >= WrittenBeforeKill,
                TimeSpan.FromMinutes(2),
                "the import to write rows");
            Assert.That(sending.IsCompleted, Is.False,
                () => $"the endless import answered {sending.Result.StatusCode}: {sending.Result.Content.ReadAsStringAsync().Result}");
            written = await StoredBytesAsync(database) - baseline;
            uploaded = upload.Written;
            await first.KillAsync();
            Assert.That(async () => await sending, Throws.InstanceOf<HttpRequestException>(), "the killed import was never acknowledged");
        }

        await using var second = await HostProcess.StartAsync(database.DataDirectory, settings);
        var afterCrash = await RowsAsync(second.Client, dataset);
        var retry = await ImportAsync(second.Client, dataset, "b", Csv("b", 50));
        var replay = await ImportAsync(second.Client, dataset, "b", Csv("b", 50));
        var afterRetry = await RowsAsync(second.Client, dataset);
        TestContext.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Kill drill ({provider}): SIGKILL after {uploaded / (1024 * 1024)} MiB uploaded, the database grown by "
            + $"{written / (1024 * 1024)} MiB; after the restart {afterCrash.Count} rows visible; drill took " +
                $"{started.Elapsed.TotalSeconds:F1} s"));

        Assert.Multiple(() =>
        {
            Assert.That(afterCrash, Is.EquivalentTo(Keys("a", AcknowledgedRows)), "all of the acknowledged import, none of the killed one");
            Assert.That((bool)retry["replayed"]!, Is.False, "the killed attempt recorded no import: the retry runs");
            Assert.That((bool)replay["replayed"]!, Is.True);
            Assert.That(
                afterRetry,
                Is.EquivalentTo(Keys("a", AcknowledgedRows).Concat(Keys("b", 50))),
                "the retry once, nothing left of the kill");
        });
    }

    [Test]
    public async Task Training_WhenTheHostIsKilledMidFit_ResumesOnRestartAndRegistersTheVersionOnce()
    {
        using var directory = new TemporaryDirectory();
        // The attempt lost with the first host is retried once its heartbeat is missed: 5 s here instead of 120 s.
        // The fit heartbeats every 2 s, so a live attempt never misses it.
        KeyValuePair<string, string?>[] settings =
        [
            new("Model:Bootstrap:Enabled", "false"),
            new("Workflows:Training:HeartbeatTimeoutSeconds", "5"),
        ];
        string location;
        await using (var first = await HostProcess.StartAsync(directory.Path, settings))
        {
            // Enough rows that the fit outlasts the SDK's heartbeat throttling (up to 4 s here), so the poll below sees it.
            var dataset = await CreateChurnDatasetAsync(first.Client, rows: 100_000);
            var response = await first.Client.PostAsJsonAsync("/api/v1/training-runs", new
            {
                model = "drill-churn",
                version = "1.0.0",
                task = "binaryClassification",
                datasetId = dataset,
                activate = true,
            });
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
            location = response.Headers.Location!.ToString();
            // "training" in the train step's heartbeat: the fit itself is running.
            static bool FittingOrOver(JsonObject run)
                => (string?)run["training"]?["stage"] == "training" || WorkflowTestKit.Status(run) != "running";
            await WorkflowTestKit.PollAsync(first.Client, location, FittingOrOver, TimeSpan.FromSeconds(120), "the fit");
            var run = await WorkflowTestKit.ReadAsync(await first.Client.GetAsync(location));
            Assert.That(WorkflowTestKit.Status(run), Is.EqualTo("running"), $"fitting when the host is killed: {run.ToJsonString()}");
            await first.KillAsync();
        }

        var killed = Stopwatch.StartNew();
        await using var second = await HostProcess.StartAsync(directory.Path, settings);
        var finished = await WorkflowTestKit.PollAsync(
            second.Client,
            location,
            r => WorkflowTestKit.Status(r) != "running",
            TimeSpan.FromSeconds(180));
        TestContext.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Kill drill (training): the run {WorkflowTestKit.Status(finished)} {killed.Elapsed.TotalSeconds:F1} s after " +
            $"the SIGKILL (restart included)"));

        var model = await WorkflowTestKit.ReadAsync(await second.Client.GetAsync("/api/v1/models/drill-churn"));
        Assert.Multiple(() =>
        {
            Assert.That(WorkflowTestKit.Status(finished), Is.EqualTo("completed"), finished.ToJsonString());
            Assert.That(model["versions"]!.AsArray().Count(v => (string?)v!["version"] == "1.0.0"), Is.EqualTo(1), "registered once");
            Assert.That((string?)model["activeVersion"], Is.EqualTo("1.0.0"));
        });
    }

    private static async Task<long> CreateDatasetAsync(HttpClient client)
    {
        var response = await client.PostAsJsonAsync("/api/v1/datasets", new
        {
            name = "drill-import",
            columns = new object[] { new { name = "k", type = "categorical" }, new { name = "x", type = "numeric" } },
        });
        return (long)(await WorkflowTestKit.ReadAsync(response))["id"]!;
    }

    /// <summary>The Model module's synthetic churn sample as a dataset, imported over HTTP.</summary>
    private static async Task<long> CreateChurnDatasetAsync(HttpClient client, int rows)
    {
        const ModelTask task = ModelTask.BinaryClassification;
        var columns = SampleData.Columns(task);
        var response = await client.PostAsJsonAsync("/api/v1/datasets", new
        {
            name = "drill-churn",
            columns = columns.Select(c => new
            {
                name = c.Name,
                type = c.Kind switch
                {
                    ColumnKind.Numeric => "numeric",
                    ColumnKind.Boolean => "boolean",
                    ColumnKind.Categorical => "categorical",
                    _ => "text",
                },
                role = c.IsLabel ? "label" : "feature",
            }),
        });
        var dataset = (long)(await WorkflowTestKit.ReadAsync(response))["id"]!;
        var csv = new StringBuilder(string.Join(',', columns.Select(c => c.Name))).Append('\n');
        foreach (var row in SampleData.Rows(task, rows, seed: 5))
        {
            csv.AppendJoin(',', row.Select(v => v switch
            {
                null => "",
                bool b => b ? "true" : "false",
                string s => $"\"{s.Replace("\"", "\"\"", StringComparison.Ordinal)}\"",
                var other => Convert.ToString(other, CultureInfo.InvariantCulture),
            })).Append('\n');
        }

        var report = await ImportAsync(client, dataset, "churn", csv.ToString());
        Assert.That((long)report["rowsAccepted"]!, Is.EqualTo(rows), report.ToJsonString());
        return dataset;
    }

    private static async Task<JsonObject> ImportAsync(HttpClient client, long dataset, string importId, string csv)
    {
        using var content = new StringContent(csv, Encoding.UTF8, "text/csv");
        var response = await client.PostAsync($"/api/v1/datasets/{dataset}/rows?importId={importId}", content);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await WorkflowTestKit.ReadAsync(response);
    }

    private static string Csv(string prefix, int rows) =>
        "k,x\n" + string.Concat(Enumerable.Range(0, rows).Select(i => $"{prefix}-{i},{i}\n"));

    private static IEnumerable<string> Keys(string prefix, int rows) => Enumerable.Range(0, rows).Select(i => $"{prefix}-{i}");

    /// <summary>The keys of every visible row, read two ways: the export and the dataset's row count must agree.</summary>
    private static async Task<List<string>> RowsAsync(HttpClient client, long dataset)
    {
        var exported = (await client.GetStringAsync($"/api/v1/datasets/{dataset}/export?format=csv"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(line => line[..line.IndexOf(',', StringComparison.Ordinal)]).ToList();
        var details = await WorkflowTestKit.ReadAsync(await client.GetAsync($"/api/v1/datasets/{dataset}"));
        Assert.That((long)details["rowCount"]!, Is.EqualTo(exported.Count), "the row count matches the rows one can read");
        return exported;
    }

    /// <summary>Bytes the database takes on disk: its SQLite files, or the PostgreSQL database's size.</summary>
    private static async Task<long> StoredBytesAsync(TestDatabase database)
    {
        if (database.Options.Provider == DatabaseProvider.Sqlite)
        {
            return Directory.GetFiles(database.DataDirectory, "formanova.db*").Sum(file => new FileInfo(file).Length);
        }

        await using var connection = new Npgsql.NpgsqlConnection(database.Options.ConnectionString);
        await connection.OpenAsync();
        await using var size = new Npgsql.NpgsqlCommand("SELECT pg_database_size(current_database())", connection);
        return (long)(await size.ExecuteScalarAsync())!;
    }

    /// <summary>A CSV body without end, rows "{prefix}-{i},{i}": the import stays in flight until the host dies.</summary>
    private sealed class EndlessCsv : HttpContent
    {
        private readonly string _prefix;

        public EndlessCsv(string prefix)
        {
            _prefix = prefix;
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/csv");
        }

        public long Written { get; private set; }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync("k,x\n"u8.ToArray(), cancellationToken);
            var chunk = new StringBuilder();
            for (var i = 0L; ;)
            {
                chunk.Clear();
                for (var n = 0; n < 4096; n++, i++)
                {
                    chunk.Append(_prefix).Append('-').Append(i).Append(',').Append(i).Append('\n');
                }

                var bytes = Encoding.UTF8.GetBytes(chunk.ToString());
                await stream.WriteAsync(bytes, cancellationToken);
                Written += bytes.Length;
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }

    private sealed class TemporaryDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("formanova-drill-host-").FullName;

        public void Dispose() => LocalProcesses.DeleteDirectory(Path);
    }
}
