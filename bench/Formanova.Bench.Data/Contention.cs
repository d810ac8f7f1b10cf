using System.Diagnostics;
using System.Globalization;
using System.Text;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Bounded work under locks (docs/benchmarks.md, Data module): an import through a column pattern that a backtracking engine took
/// exponential time on, beside the same import without the pattern; and how long an event publish and a dataset
/// creation take while a long import runs, beside the same calls with nothing else running. The import, the
/// publisher and the creator are the module calls the REST endpoints make, in one process, as in the other scenarios.
/// </summary>
internal static class Contention
{
    /// <summary>Exponential for a backtracking engine on a run of a's without the b (docs/data.md, Schemas).</summary>
    private const string Pattern = "(a+)+b";

    private static readonly IReadOnlyList<ColumnDefinition> PlainColumns =
    [
        new("id", ColumnType.Numeric, Nullable: false, ColumnRole.Id),
        new("code", ColumnType.Text),
        new("note", ColumnType.Text),
    ];

    private static readonly IReadOnlyList<ColumnDefinition> PatternColumns =
        PlainColumns.Select(c => c.Name == "code" ? c with { Constraints = new ColumnConstraints(Pattern: Pattern) } : c).ToList();

    public static async Task RunAsync(BenchOptions options, string? postgres, string work)
    {
        Console.WriteLine(
            $"# Data contention benchmark {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, "
            + $".NET {Environment.Version}, rows={options.Rows}, runs={options.Runs}");
        var csv = Path.Combine(work, "pattern.csv");
        Write(csv, options.Rows);
        Console.WriteLine(
            $"CSV fixture: {new FileInfo(csv).Length / 1048576.0:F1} MiB; every 100th code is 28 a's and '!' (no match), the rest match");

        if (!options.SkipSqlite)
        {
            var settings = new Dictionary<string, string?>
            {
                ["Formanova:DataDirectory"] = work,
                ["Database:Provider"] = "Sqlite",
                ["Database:SqlitePath"] = "contention.db"
            };
            await RunProviderAsync("SQLite", settings, csv, options);
        }

        if (postgres is not null)
        {
            await using var database = await BenchDatabase.CreatePostgresAsync(postgres);
            await RunProviderAsync("PostgreSQL", database.Settings, csv, options);
        }
        else
        {
            Console.WriteLine("FORMANOVA_TEST_POSTGRES is not set: PostgreSQL figures skipped.");
        }
    }

    private static async Task RunProviderAsync(string provider, IDictionary<string, string?> settings, string csv, BenchOptions options)
    {
        await using var host = await ModuleHost.StartAsync(settings, withEvents: true);
        var data = host.Data;
        var events = host.Services.GetRequiredService<IEventModule>();
        var rows = options.Rows;

        // One untimed import first: the first one of a process also pays for JIT compilation and the connection pool.
        await ImportAsync(data, csv, PlainColumns, rows);
        var plain = await Measure.MedianAsync(options.Runs, async () => (await ImportAsync(data, csv, PlainColumns, rows)).Elapsed);
        var pattern = await Measure.MedianAsync(options.Runs, async () => (await ImportAsync(data, csv, PatternColumns, rows)).Elapsed);
        Console.WriteLine(
            $"{provider} import, code without a pattern: median {plain.TotalSeconds:F2} s = {rows / plain.TotalSeconds:N0} rows/s");
        Console.WriteLine(
            $"{provider} import, code with pattern {Pattern}: median {pattern.TotalSeconds:F2} s = {rows / pattern.TotalSeconds:N0} rows/s "
            + $"({pattern.TotalSeconds / plain.TotalSeconds:F2}x the time without)");

        // Untimed calls first, so that neither series below pays for compiling the publish and create paths. The idle
        // baseline then makes as many publishes and creations as the run beside the import did.
        await NeighboursAsync(data, events, until: null, count: 50);
        using var batches = new BatchDurations();
        var during = await NeighboursAsync(data, events, until: ImportAsync(data, csv, PatternColumns, rows), count: null);
        var batchMilliseconds = batches.Take();
        var idle = await NeighboursAsync(data, events, until: null, count: during.Publishes.Count);
        Console.WriteLine($"{provider} event publish while idle:            {Describe(idle.Publishes)}");
        Console.WriteLine($"{provider} event publish during the import:     {Describe(during.Publishes)}");
        Console.WriteLine($"{provider} dataset creation while idle:         {Describe(idle.Creations)}");
        Console.WriteLine($"{provider} dataset creation during the import:  {Describe(during.Creations)}");
        var import = during.Import!.Value;
        Console.WriteLine($"{provider} the import beside them: {import.TotalSeconds:F2} s = {rows / import.TotalSeconds:N0} rows/s");
        Console.WriteLine($"{provider} its batch transactions, BEGIN to COMMIT: {Describe(batchMilliseconds)}");
    }

    /// <summary>The module's own record of how long each import batch held its write transaction.</summary>
    private sealed class BatchDurations : IDisposable
    {
        private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
        private readonly List<double> _milliseconds = [];

        public BatchDurations()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "formanova.data.import.batch.duration")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, seconds, _, _) =>
            {
                lock (_milliseconds)
                {
                    _milliseconds.Add(seconds * 1000);
                }
            });
            _listener.Start();
        }

        public List<double> Take()
        {
            lock (_milliseconds)
            {
                var taken = _milliseconds.ToList();
                _milliseconds.Clear();
                return taken;
            }
        }

        public void Dispose() => _listener.Dispose();
    }

    private sealed record Neighbours(List<double> Publishes, List<double> Creations, TimeSpan? Import);

    /// <summary>
    /// One publisher, one call at a time as a client makes them, with a dataset creation after every tenth publish:
    /// until <paramref name="until"/> (an import) completes, or <paramref name="count"/> publishes.
    /// </summary>
    private static async Task<Neighbours> NeighboursAsync(
        IDataModule data,
        IEventModule events,
        Task<(TimeSpan Elapsed, long Rows)>? until,
        int? count)
    {
        var publishes = new List<double>();
        var creations = new List<double>();
        var data64 = System.Text.Json.JsonSerializer.SerializeToElement(new { bench = "contention" });
        while (until is null ? publishes.Count < count : !until.IsCompleted)
        {
            var watch = Stopwatch.StartNew();
            await events.PublishAsync(new PublishEventRequest("BENCH_CONTENTION", "/bench/data", data64));
            publishes.Add(watch.Elapsed.TotalMilliseconds);
            if (publishes.Count % 10 == 0)
            {
                watch.Restart();
                var created = await data.CreateDatasetAsync(new CreateDatasetRequest($"neighbour-{Guid.NewGuid():N}", PlainColumns));
                creations.Add(watch.Elapsed.TotalMilliseconds);
                await data.DeleteDatasetAsync(created.Id);
            }
        }

        return new Neighbours(publishes, creations, until is null ? null : (await until).Elapsed);
    }

    private static async Task<(TimeSpan Elapsed, long Rows)> ImportAsync(
        IDataModule data,
        string csv,
        IReadOnlyList<ColumnDefinition> columns,
        long rows)
    {
        // Off the caller's thread, so that a publisher loop on the caller's starts at once.
        await Task.Yield();
        var dataset = await data.CreateDatasetAsync(new CreateDatasetRequest($"contention-{Guid.NewGuid():N}", columns));
        await using var file = new FileStream(csv, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        var watch = Stopwatch.StartNew();
        var report = await data.ImportRowsAsync(dataset.Id, file, new ImportOptions(ImportFormat.Csv, OnError: ImportErrorMode.Skip));
        watch.Stop();
        var expectedRejected = ReferenceEquals(columns, PatternColumns) ? rows / 100 : 0;
        if (report.RowsRead != rows || report.RowsRejected != expectedRejected)
        {
            throw new InvalidOperationException(
                $"Expected {rows} rows with {expectedRejected} rejected, got {report.RowsRead} and {report.RowsRejected}.");
        }

        await data.DeleteDatasetAsync(dataset.Id);
        return (watch.Elapsed, report.RowsAccepted);
    }

    private static string Describe(List<double> milliseconds)
    {
        if (milliseconds.Count == 0)
        {
            return "none made";
        }

        var sorted = milliseconds.Order().ToList();
        double At(double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
        return string.Create(
            CultureInfo.InvariantCulture,
            $"n={sorted.Count}, median {At(0.5):F1} ms, p99 {At(0.99):F1} ms, max {sorted[^1]:F1} ms");
    }

    private static void Write(string path, long rows)
    {
        var slow = new string('a', 28) + "!";
        var note = new string('n', 40);
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        writer.Write("id,code,note\n");
        for (long i = 1; i <= rows; i++)
        {
            writer.Write(string.Create(CultureInfo.InvariantCulture, $"{i},{(i % 100 == 0 ? slow : "aaab")},{note}\n"));
        }
    }
}
