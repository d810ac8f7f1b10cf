using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Model.Onnx;
using Formanova.Tests.Support;

namespace Formanova.Tests.Drills;

/// <summary>
/// The host, as a real process (<see cref="HostProcess"/>), is SIGKILLed in the middle of an ONNX upload: while the
/// body streams in, and once the body is in and the version's files are in place but its row is not committed. After
/// a restart on the same data the version does not exist, no file of it is left in the registry's folder, and the
/// same upload then succeeds.
/// </summary>
[Category("Integration")]
[Category("Drill")]
[NonParallelizable]
public sealed class OnnxUploadKillDrillTests
{
    private const string Model = "drill-onnx";

    /// <summary>Floats of padding in the killed upload's graph: 32 MiB, so the body takes a while to stream.</summary>
    private const int PaddingFloats = 8 * 1024 * 1024;

    [TestCaseSource(typeof(TestDatabase), nameof(TestDatabase.ProviderCases))]
    public async Task Upload_WhenTheHostIsKilledWhileTheBodyStreams_LeavesNoVersionAndTheSameUploadThenSucceeds(
        DatabaseProvider provider)
    {
        await using var database = await TestDatabase.CreateAsync(provider);
        // The host buffers a multipart file part over 64 KiB to a file here: it growing shows the body arriving.
        var buffers = Directory.CreateTempSubdirectory("formanova-drill-upload-").FullName;
        var settings = Settings(database).Append(new("ASPNETCORE_TEMP", buffers)).ToList();
        var file = HandBuiltModels.BinaryPadded(PaddingFloats);
        try
        {
            await using (var first = await HostProcess.StartAsync(database.DataDirectory, settings))
            {
                await OnnxUploads.RegisterAsync(first.Client, Model, HandBuiltModels.Binary(), HandBuiltModels.BinaryMetadata("1.0.0"));
                using var body = new HalfSentUpload(file, HandBuiltModels.BinaryMetadata("2.0.0"));
                var sending = first.Client.PostAsync($"/api/v1/models/{Model}/versions", body);
                await LocalProcesses.UntilAsync(
                    () => Task.FromResult(sending.IsCompleted || BufferedBytes(buffers) >= file.Length / 4),
                    TimeSpan.FromSeconds(60),
                    "the host to buffer a quarter of the upload");
                Assert.That(sending.IsCompleted, Is.False, () => $"the half-sent upload answered {sending.Result.StatusCode}");
                await first.KillAsync();
                // The rest of the body now meets a closed connection, which is how the client learns of the kill.
                body.SendTheRest();
                Assert.That(
                    async () => await sending,
                    Throws.InstanceOf<HttpRequestException>(),
                    "the killed upload was never acknowledged");
            }

            await AssertNothingLeftAndRetrySucceedsAsync(database, settings, file);
        }
        finally
        {
            LocalProcesses.DeleteDirectory(buffers);
        }
    }

    [TestCaseSource(typeof(TestDatabase), nameof(TestDatabase.ProviderCases))]
    public async Task Upload_WhenTheHostIsKilledAfterTheFilesArePlacedBeforeTheRowCommits_LeavesNoVersionAndTheSameUploadThenSucceeds(
        DatabaseProvider provider)
    {
        await using var database = await TestDatabase.CreateAsync(provider);
        var settings = Settings(database).ToList();
        var file = HandBuiltModels.Binary();
        await using (var first = await HostProcess.StartAsync(database.DataDirectory, settings))
        {
            await OnnxUploads.RegisterAsync(first.Client, Model, file, HandBuiltModels.BinaryMetadata("1.0.0"));

            // The gate: the test holds the database's write lock, so the registration waits at its insert, after the
            // body is read, the graph checked and the files moved into the version's folder; the folder appearing
            // shows it has got that far.
            await using var writeLock = await WriteLock.TakeAsync(database);
            var sending = OnnxUploads.UploadAsync(first.Client, Model, file, HandBuiltModels.BinaryMetadata("2.0.0"));
            var folder = VersionFolder(database, "2.0.0");
            await LocalProcesses.UntilAsync(
                () => Task.FromResult(sending.IsCompleted || Directory.Exists(folder)),
                TimeSpan.FromSeconds(20),
                "the upload's files to be moved into place");
            Assert.That(sending.IsCompleted, Is.False, () => $"the upload answered {sending.Result.StatusCode} through the lock");
            await first.KillAsync();
            Assert.That(async () => await sending, Throws.InstanceOf<HttpRequestException>(), "the killed upload was never acknowledged");
        }

        Assert.That(Directory.Exists(VersionFolder(database, "2.0.0")), Is.True, "the kill left the placed folder behind");
        await AssertNothingLeftAndRetrySucceedsAsync(database, settings, file);
    }

    private static IEnumerable<KeyValuePair<string, string?>> Settings(TestDatabase database) =>
        database.Settings.Concat([
            new("Model:Bootstrap:Enabled", "false"),
            // The admin key's last use is written at its first request only: nothing else writes while the lock is held.
            new("Auth:LastUsedResolutionSeconds", "3600"),
        ]);

    private static string VersionFolder(TestDatabase database, string version) =>
        Path.Combine(database.DataDirectory, "models", Model, version);

    private static long BufferedBytes(string directory) =>
        Directory.EnumerateFiles(directory).Sum(f => new FileInfo(f).Length);

    /// <summary>
    /// After the restart: 2.0.0 is unknown, the registry's folder holds 1.0.0 alone (start-up sweeps what the kill
    /// left), and uploading 2.0.0 again registers it.
    /// </summary>
    private static async Task AssertNothingLeftAndRetrySucceedsAsync(
        TestDatabase database,
        IEnumerable<KeyValuePair<string, string?>> settings,
        byte[] file)
    {
        await using var second = await HostProcess.StartAsync(database.DataDirectory, settings);
        var models = Path.Combine(database.DataDirectory, "models");
        await LocalProcesses.UntilAsync(
            () => Task.FromResult(!Directory.Exists(VersionFolder(database, "2.0.0")) && !Directory.Exists(Path.Combine(models, ".tmp"))),
            TimeSpan.FromSeconds(30),
            "start-up to sweep the killed upload's files");
        var version = await second.Client.GetAsync($"/api/v1/models/{Model}/versions/2.0.0");
        var model = JsonNode.Parse(await second.Client.GetStringAsync($"/api/v1/models/{Model}"))!;
        var left = Directory.EnumerateFileSystemEntries(models, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(models, f))
            .Where(f => !f.StartsWith(Path.Combine(Model, "1.0.0"), StringComparison.Ordinal) && f != Model)
            .ToList();
        var retry = await OnnxUploads.UploadAsync(second.Client, Model, file, HandBuiltModels.BinaryMetadata("2.0.0"));

        Assert.Multiple(async () =>
        {
            Assert.That(version.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "the killed upload registered nothing");
            Assert.That(model["versions"]!.AsArray().Select(v => (string?)v!["version"]), Is.EqualTo(new[] { "1.0.0" }));
            Assert.That(left, Is.Empty, "no file of the killed upload is left in the registry's folder");
            Assert.That(retry.StatusCode, Is.EqualTo(HttpStatusCode.Created), await retry.Content.ReadAsStringAsync());
        });
    }

    /// <summary>
    /// A multipart upload that sends its metadata and the first half of its file, then stops sending until
    /// <see cref="SendTheRest"/>: the request stays in flight, body half read.
    /// </summary>
    private sealed class HalfSentUpload : HttpContent
    {
        private const string Boundary = "formanova-drill-boundary";

        private readonly byte[] _file;
        private readonly string _metadata;
        private readonly TaskCompletionSource _rest = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public HalfSentUpload(byte[] file, object metadata)
        {
            _file = file;
            _metadata = JsonSerializer.Serialize(metadata, JsonSerializerOptions.Web);
            Headers.TryAddWithoutValidation("Content-Type", $"multipart/form-data; boundary={Boundary}");
        }

        public void SendTheRest() => _rest.TrySetResult();

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            var head = $"--{Boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{_metadata}\r\n"
                + $"--{Boundary}\r\nContent-Disposition: form-data; name=\"model\"; filename=\"model.onnx\"\r\n"
                + "Content-Type: application/octet-stream\r\n\r\n";
            await stream.WriteAsync(Encoding.UTF8.GetBytes(head), cancellationToken);
            await stream.WriteAsync(_file.AsMemory(0, _file.Length / 2), cancellationToken);
            await stream.FlushAsync(cancellationToken);
            await _rest.Task.WaitAsync(cancellationToken);
            await stream.WriteAsync(_file.AsMemory(_file.Length / 2), cancellationToken);
            await stream.WriteAsync(Encoding.UTF8.GetBytes($"\r\n--{Boundary}--\r\n"), cancellationToken);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }

    /// <summary>
    /// The database's write lock, held by the test: SQLite's reserved lock, or PostgreSQL's EXCLUSIVE lock on
    /// model_versions.
    /// </summary>
    private sealed class WriteLock : IAsyncDisposable
    {
        private readonly System.Data.Common.DbConnection _connection;
        private readonly System.Data.Common.DbTransaction _transaction;

        private WriteLock(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction)
        {
            _connection = connection;
            _transaction = transaction;
        }

        public static async Task<WriteLock> TakeAsync(TestDatabase database)
        {
            if (database.Options.Provider == DatabaseProvider.Sqlite)
            {
                var sqlite = new Microsoft.Data.Sqlite.SqliteConnection(
                    $"Data Source={Path.Combine(database.DataDirectory, database.Options.SqlitePath!)}");
                await sqlite.OpenAsync();
                // Microsoft.Data.Sqlite begins IMMEDIATE: the reserved lock is taken here, not at the first write.
                return new WriteLock(sqlite, await sqlite.BeginTransactionAsync());
            }

            var postgres = new Npgsql.NpgsqlConnection(database.Options.ConnectionString);
            await postgres.OpenAsync();
            var transaction = await postgres.BeginTransactionAsync();
            await using var command = new Npgsql.NpgsqlCommand("LOCK TABLE model_versions IN EXCLUSIVE MODE", postgres, transaction);
            await command.ExecuteNonQueryAsync();
            return new WriteLock(postgres, transaction);
        }

        public async ValueTask DisposeAsync()
        {
            await _transaction.RollbackAsync();
            await _transaction.DisposeAsync();
            await _connection.DisposeAsync();
        }
    }
}
