using System.Diagnostics;
using System.Globalization;
using System.Text;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Formanova.Modules.Shared;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using NpgsqlTypes;

// Data module benchmarks: validated CSV import into PostgreSQL and SQLite next to a raw binary COPY, peak memory
// per import size (each in a fresh child process, since the peak working set only grows), and the streaming
// read-back the Model module trains from, next to a raw typed read.
//   dotnet run -c Release --project bench/Formanova.Bench.Data -- [--rows 1000000] [--runs 3] [--skip-sqlite] [--skip-memory]
// --contention instead measures an import through a catastrophic-backtracking pattern, and event publishes and
// dataset creations during a long import (see Contention.cs):
//   dotnet run -c Release --project bench/Formanova.Bench.Data -- --contention [--rows 1000000] [--runs 3] [--skip-sqlite]
// --parquet instead measures Parquet import next to CSV import of the same rows (see ParquetImport.cs):
//   dotnet run -c Release --project bench/Formanova.Bench.Data -- --parquet [--rows 1000000] [--runs 3] [--skip-sqlite]
// --import-baselines prints the raw floors for a given CSV file and its dataset's columns (bench/scripts/import.sh):
//   dotnet run -c Release --project bench/Formanova.Bench.Data -- --import-baselines --file rows.csv --columns columns.json
//     [--postgres CONNECTION_STRING] [--runs 3] [--rows-per-statement 64 (the SQLite floor's)]
// and --postgres ADMIN_CONNECTION_STRING --create-database prints the connection string of a new empty database,
// which --postgres ADMIN_CONNECTION_STRING --drop-database THAT_CONNECTION_STRING drops.
// PostgreSQL comes from FORMANOVA_TEST_POSTGRES (scripts/test-services.sh start prints it).
var options = BenchOptions.Parse(args);
if (options.MemoryChild is { } child)
{
    await MemoryChild.RunAsync(child, options);
    return;
}

if (args.Contains("--breakdown"))
{
    await Breakdown.RunAsync(options.Rows);
    return;
}

var postgres = Environment.GetEnvironmentVariable("FORMANOVA_TEST_POSTGRES");
if (options.Postgres is { } admin && args.Contains("--create-database"))
{
    // A database for a host to migrate and import into (bench/scripts/import.sh), dropped with --drop-database NAME.
    Console.WriteLine((await BenchDatabase.CreatePostgresAsync(admin)).ConnectionString);
    return;
}

if (options.Postgres is { } owner && Array.IndexOf(args, "--drop-database") is var drop and >= 0)
{
    await new BenchDatabase(owner, new NpgsqlConnectionStringBuilder(args[drop + 1]).Database!).DisposeAsync();
    return;
}

if (args.Contains("--import-baselines"))
{
    var scratch = Directory.CreateTempSubdirectory("formanova-bench-raw-").FullName;
    try
    {
        await RawBaselines.RunAsync(options, options.Postgres ?? postgres, scratch);
    }
    finally
    {
        Directory.Delete(scratch, recursive: true);
    }

    return;
}

var work = Directory.CreateTempSubdirectory("formanova-bench-data-").FullName;
try
{
    if (args.Contains("--contention"))
    {
        await Contention.RunAsync(options, postgres, work);
        return;
    }

    if (args.Contains("--parquet"))
    {
        await ParquetImport.RunAsync(options, postgres, work);
        return;
    }

    Console.WriteLine($"# Data module benchmark {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET " +
        $"{Environment.Version}, rows={options.Rows}, runs={options.Runs}");
    var csv = Path.Combine(work, "rows.csv");
    CsvFixture.Write(csv, options.Rows);
    Console.WriteLine($"CSV fixture: {new FileInfo(csv).Length / 1048576.0:F1} MiB, 12 columns");

    if (postgres is not null)
    {
        await using var database = await BenchDatabase.CreatePostgresAsync(postgres);
        await using var host = await ModuleHost.StartAsync(database.Settings);
        var raw = await Measure.MedianAsync(options.Runs, () => RawCopy.RunAsync(database.ConnectionString, options.Rows));
        Report("PostgreSQL raw binary COPY (typed 12-column table, values in memory)", options.Rows, raw);
        var import = await Measure.MedianAsync(options.Runs, () => Imports.RunAsync(host.Data, csv, options.Rows));
        Report("PostgreSQL validated CSV import (parse + validate + encode + COPY)", options.Rows, import);
        Console.WriteLine($"  ratio import/raw throughput: {raw.TotalSeconds / import.TotalSeconds:F2}");

        var dataset = await Imports.ImportOnceAsync(host.Data, csv);
        var rawRead = await Measure.MedianAsync(options.Runs, () => RawRead.RunAsync(database.ConnectionString, options.Rows));
        Report("PostgreSQL raw typed read (NpgsqlDataReader over the 12-column table)", options.Rows, rawRead);
        var read = await Measure.MedianAsync(options.Runs, () => Reads.RunAsync(host.Data, dataset, options.Rows));
        Report("PostgreSQL streaming read-back (IDataModule.OpenRowStreamAsync, typed object?[] rows)", options.Rows, read);
        Console.WriteLine($"  ratio stream/raw throughput: {rawRead.TotalSeconds / read.TotalSeconds:F2}");
    }
    else
    {
        Console.WriteLine("FORMANOVA_TEST_POSTGRES is not set: PostgreSQL figures skipped.");
    }

    if (!options.SkipSqlite)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Formanova:DataDirectory"] = work,
            ["Database:Provider"] = "Sqlite",
            ["Database:SqlitePath"] = "bench.db"
        };
        await using var host = await ModuleHost.StartAsync(settings);
        var raw = await SqliteFloor.MedianAsync(TypedRows.Load(csv, CsvFixture.Columns), options.Runs, work);
        Report(
            $"SQLite raw prepared {SqliteFloor.DefaultRowsPerStatement}-row INSERTs bound by position, one transaction "
                + "(typed table, in memory)",
            options.Rows,
            raw);
        var import = await Measure.MedianAsync(options.Runs, () => Imports.RunAsync(host.Data, csv, options.Rows));
        Report("SQLite validated CSV import (parse + validate + encode + batched INSERT)", options.Rows, import);
        Console.WriteLine($"  ratio import/raw throughput: {raw.TotalSeconds / import.TotalSeconds:F2}");
        var dataset = await Imports.ImportOnceAsync(host.Data, csv);
        var read = await Measure.MedianAsync(options.Runs, () => Reads.RunAsync(host.Data, dataset, options.Rows));
        Report("SQLite streaming read-back", options.Rows, read);
    }

    if (!options.SkipMemory)
    {
        foreach (var rows in new[] { 100_000, options.Rows }.Distinct())
        {
            var file = Path.Combine(work, $"mem-{rows}.csv");
            CsvFixture.Write(file, rows);
            foreach (var provider in postgres is null ? ["Sqlite"] : new[] { "Postgres", "Sqlite" })
            {
                var peak = await MemoryChild.LaunchAsync(provider, file, rows, work);
                Console.WriteLine(
                    $"Peak working set, {provider} import of {rows:N0} rows ({new FileInfo(file).Length / 1048576.0:F0} MiB file): {peak}");
            }
        }
    }
}
finally
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    Directory.Delete(work, recursive: true);
}

static void Report(string name, long rows, TimeSpan median) =>
    Console.WriteLine($"{name}: median {median.TotalSeconds:F2} s = {rows / median.TotalSeconds:N0} rows/s " +
        $"(process CPU {Measure.LastCpu.TotalSeconds:F2} s)");

internal sealed record BenchOptions(
    long Rows,
    int Runs,
    bool SkipSqlite,
    bool SkipMemory,
    string? MemoryChild,
    string? File,
    string? DataDirectory,
    string? Columns = null,
    string? Postgres = null,
    int RowsPerStatement = SqliteFloor.DefaultRowsPerStatement)
{
    public static BenchOptions Parse(string[] args)
    {
        string? Value(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        return new BenchOptions(
            long.Parse(Value("--rows") ?? "1000000", CultureInfo.InvariantCulture),
            int.Parse(Value("--runs") ?? "3", CultureInfo.InvariantCulture),
            args.Contains("--skip-sqlite"),
            args.Contains("--skip-memory"),
            Value("--memory-child"),
            Value("--file"),
            Value("--data-dir"),
            Value("--columns"),
            Value("--postgres"),
            int.Parse(Value("--rows-per-statement") ?? $"{SqliteFloor.DefaultRowsPerStatement}", CultureInfo.InvariantCulture));
    }
}

/// <summary>12 columns: an id, six numbers with ranges, two constrained categories, a flag, a timestamp and free text.</summary>
internal static class CsvFixture
{
    public static readonly IReadOnlyList<ColumnDefinition> Columns =
    [
        new("id", ColumnType.Numeric, Nullable: false, ColumnRole.Id),
        new("f1", ColumnType.Numeric, Constraints: new ColumnConstraints(Min: 0, Max: 1000)),
        new("f2", ColumnType.Numeric, Constraints: new ColumnConstraints(Min: 0, Max: 1000)),
        new("f3", ColumnType.Numeric),
        new("f4", ColumnType.Numeric),
        new("f5", ColumnType.Numeric),
        new("f6", ColumnType.Numeric),
        new("city", ColumnType.Categorical, Constraints: new ColumnConstraints(AllowedValues: ["Lyon", "Paris", "Nice", "Lille"])),
        new("plan", ColumnType.Categorical, Constraints: new ColumnConstraints(AllowedValues: ["free", "pro", "team"])),
        new("active", ColumnType.Boolean),
        new("seen", ColumnType.Datetime),
        new("label", ColumnType.Boolean, Role: ColumnRole.Label),
    ];

    private static readonly string[] Cities = ["Lyon", "Paris", "Nice", "Lille"];
    private static readonly string[] Plans = ["free", "pro", "team"];

    public static void Write(string path, long rows)
    {
        var random = new Random(42);
        var start = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        writer.Write("id,f1,f2,f3,f4,f5,f6,city,plan,active,seen,label\n");
        for (long i = 1; i <= rows; i++)
        {
            writer.Write(string.Create(CultureInfo.InvariantCulture,
                $"{i},{random.NextDouble() * 1000:F3},{random.Next(1000)},{random.NextDouble():F6},{random.Next(-50, 50)},"
                + $"{random.NextDouble() * 1e6:F2},{random.Next(10)},{Cities[random.Next(4)]},{Plans[random.Next(3)]},"
                + $"{(random.Next(2) == 1 ? "true" : "false")},{start.AddSeconds(i):yyyy-MM-ddTHH:mm:ssZ},"
                + $"{(random.Next(2) == 1 ? "1" : "0")}\n"));
        }
    }
}

internal sealed class BenchDatabase(string admin, string name) : IAsyncDisposable
{
    public string ConnectionString { get; } = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;

    public Dictionary<string, string?> Settings => new()
    {
        ["Formanova:DataDirectory"] = Path.GetTempPath(),
        ["Database:Provider"] = "Postgres",
        ["Database:ConnectionString"] = ConnectionString,
    };

    public static async Task<BenchDatabase> CreatePostgresAsync(string admin)
    {
        var name = $"fn_bench_{Guid.NewGuid():N}";
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await create.ExecuteNonQueryAsync();
        return new BenchDatabase(admin, name);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}

/// <summary>The module's real registrations and start-up migrations (and the Event module's, when asked), without the HTTP host.</summary>
internal sealed class ModuleHost(ServiceProvider services) : IAsyncDisposable
{
    public IDataModule Data { get; } = services.GetRequiredService<IDataModule>();

    public IServiceProvider Services => services;

    public static async Task<ModuleHost> StartAsync(IDictionary<string, string?> settings, bool withEvents = false)
    {
        // Data__Import__... variables override the defaults, to compare settings without a rebuild.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).AddEnvironmentVariables().Build();
        var collection = new ServiceCollection().AddLogging().AddFormanovaInfrastructure(configuration).AddDataModule(configuration);
        if (withEvents)
        {
            collection.AddEventModule(configuration);
        }

        var services = collection.BuildServiceProvider();
        foreach (var hosted in services.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        return new ModuleHost(services);
    }

    public ValueTask DisposeAsync() => services.DisposeAsync();
}

internal static class Measure
{
    /// <summary>
    /// The process's CPU time (all threads) of the median run of the last <see cref="MedianAsync"/>: on a loaded
    /// machine, where wall times swing with the neighbours, the steadier figure to compare.
    /// </summary>
    public static TimeSpan LastCpu { get; private set; }

    public static async Task<TimeSpan> MedianAsync(int runs, Func<Task<TimeSpan>> run)
    {
        var times = new List<(TimeSpan Wall, TimeSpan Cpu)>();
        for (var i = 0; i < runs; i++)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var wall = await run();
            times.Add((wall, Process.GetCurrentProcess().TotalProcessorTime - cpu));
        }

        times.Sort();
        LastCpu = times[times.Count / 2].Cpu;
        return times[times.Count / 2].Wall;
    }
}

internal static class Imports
{
    public static async Task<long> ImportOnceAsync(IDataModule data, string csv)
    {
        var dataset = await data.CreateDatasetAsync(new CreateDatasetRequest($"bench-{Guid.NewGuid():N}", CsvFixture.Columns));
        await using var file = new FileStream(csv, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        var report = await data.ImportRowsAsync(dataset.Id, file, new ImportOptions(ImportFormat.Csv));
        if (report.RowsRejected != 0)
        {
            throw new InvalidOperationException($"Fixture rows were rejected: {string.Join("; ", report.Errors.Take(3))}");
        }

        return dataset.Id;
    }

    public static async Task<TimeSpan> RunAsync(IDataModule data, string path, long rows, ImportFormat format = ImportFormat.Csv)
    {
        var dataset = await data.CreateDatasetAsync(new CreateDatasetRequest($"bench-{Guid.NewGuid():N}", CsvFixture.Columns));
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        var watch = Stopwatch.StartNew();
        var report = await data.ImportRowsAsync(dataset.Id, file, new ImportOptions(format));
        watch.Stop();
        if (report.RowsAccepted != rows)
        {
            throw new InvalidOperationException($"Expected {rows} rows, accepted {report.RowsAccepted}.");
        }

        await data.DeleteDatasetAsync(dataset.Id);
        return watch.Elapsed;
    }
}

internal static class Reads
{
    public static async Task<TimeSpan> RunAsync(IDataModule data, long dataset, long rows)
    {
        var watch = Stopwatch.StartNew();
        var stream = await data.OpenRowStreamAsync(dataset);
        long count = 0;
        double checksum = 0;
        await foreach (var row in stream.Rows)
        {
            count++;
            checksum += row[1] is double d ? d : 0;
        }

        watch.Stop();
        if (count != rows || checksum <= 0)
        {
            throw new InvalidOperationException($"Read {count} rows.");
        }

        return watch.Elapsed;
    }
}

/// <summary>The floor: typed values generated in memory, binary COPY into a plain 12-column table.</summary>
internal static class RawCopy
{
    public static async Task<TimeSpan> RunAsync(string connectionString, long rows)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using (var create = new NpgsqlCommand("""
            DROP TABLE IF EXISTS bench_raw;
            CREATE TABLE bench_raw (id DOUBLE PRECISION, f1 DOUBLE PRECISION, f2 DOUBLE PRECISION, f3 DOUBLE PRECISION, f4 DOUBLE PRECISION,
              f5 DOUBLE PRECISION, f6 DOUBLE PRECISION, city TEXT, plan TEXT, active BOOLEAN, seen TIMESTAMPTZ, label BOOLEAN)
            """, connection))
        {
            await create.ExecuteNonQueryAsync();
        }

        var random = new Random(42);
        var start = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var watch = Stopwatch.StartNew();
        await using (var importer = await connection.BeginBinaryImportAsync("COPY bench_raw FROM STDIN (FORMAT BINARY)"))
        {
            for (long i = 1; i <= rows; i++)
            {
                await importer.StartRowAsync();
                await importer.WriteAsync((double)i, NpgsqlDbType.Double);
                await importer.WriteAsync(random.NextDouble() * 1000, NpgsqlDbType.Double);
                await importer.WriteAsync((double)random.Next(1000), NpgsqlDbType.Double);
                await importer.WriteAsync(random.NextDouble(), NpgsqlDbType.Double);
                await importer.WriteAsync((double)random.Next(-50, 50), NpgsqlDbType.Double);
                await importer.WriteAsync(random.NextDouble() * 1e6, NpgsqlDbType.Double);
                await importer.WriteAsync((double)random.Next(10), NpgsqlDbType.Double);
                await importer.WriteAsync(
                    random.Next(4) switch { 0 => "Lyon", 1 => "Paris", 2 => "Nice", _ => "Lille" },
                    NpgsqlDbType.Text);
                await importer.WriteAsync(random.Next(3) switch { 0 => "free", 1 => "pro", _ => "team" }, NpgsqlDbType.Text);
                await importer.WriteAsync(random.Next(2) == 1, NpgsqlDbType.Boolean);
                await importer.WriteAsync(start.AddSeconds(i), NpgsqlDbType.TimestampTz);
                await importer.WriteAsync(random.Next(2) == 1, NpgsqlDbType.Boolean);
            }

            await importer.CompleteAsync();
        }

        watch.Stop();
        return watch.Elapsed;
    }
}

/// <summary>The floor for reading: the typed 12-column table read with a plain data reader into object?[] rows.</summary>
internal static class RawRead
{
    public static async Task<TimeSpan> RunAsync(string connectionString, long rows)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var watch = Stopwatch.StartNew();
        await using var command = new NpgsqlCommand("SELECT * FROM bench_raw", connection);
        await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess);
        long count = 0;
        while (await reader.ReadAsync())
        {
            var values = new object?[12];
            for (var i = 0; i < 12; i++)
            {
                values[i] = await reader.IsDBNullAsync(i) ? null : reader.GetValue(i);
            }

            count++;
        }

        watch.Stop();
        return count == rows ? watch.Elapsed : throw new InvalidOperationException($"Read {count} rows.");
    }
}

/// <summary>Runs one import in a fresh process and reports that process's peak working set.</summary>
internal static class MemoryChild
{
    public static async Task<string> LaunchAsync(string provider, string file, long rows, string work)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // Under `dotnet x.dll` the process is the muxer; the child needs the assembly path first.
        if (Path.GetFileNameWithoutExtension(start.FileName) == "dotnet")
        {
            start.ArgumentList.Add(typeof(MemoryChild).Assembly.Location);
        }

        foreach (var arg in new[]
        {
            "--memory-child",
            provider,
            "--file",
            file,
            "--rows",
            rows.ToString(CultureInfo.InvariantCulture),
            "--data-dir",
            work
        })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? output.Trim() : $"child failed ({process.ExitCode}): {output.Trim()}";
    }

    public static async Task RunAsync(string provider, BenchOptions options)
    {
        BenchDatabase? database = null;
        IDictionary<string, string?> settings;
        if (provider == "Postgres")
        {
            database = await BenchDatabase.CreatePostgresAsync(Environment.GetEnvironmentVariable("FORMANOVA_TEST_POSTGRES")!);
            settings = database.Settings;
        }
        else
        {
            settings = new Dictionary<string, string?>
            {
                ["Formanova:DataDirectory"] = options.DataDirectory,
                ["Database:Provider"] = "Sqlite",
                ["Database:SqlitePath"] = $"mem-{Guid.NewGuid():N}.db",
            };
        }

        try
        {
            await using var host = await ModuleHost.StartAsync(settings);
            var before = Process.GetCurrentProcess().WorkingSet64;
            var elapsed = await Imports.RunAsync(host.Data, options.File!, options.Rows);
            using var self = Process.GetCurrentProcess();
            Console.WriteLine($"{self.PeakWorkingSet64 / 1048576.0:F0} MiB peak (working set before import {before / 1048576.0:F0} MiB; " +
                $"import {elapsed.TotalSeconds:F1} s, {options.Rows / elapsed.TotalSeconds:N0} rows/s)");
        }
        finally
        {
            if (database is not null)
            {
                await database.DisposeAsync();
            }
        }
    }
}

/// <summary>Where client-side import time goes: CSV parsing alone, then with validation, then with encoding.</summary>
internal static class Breakdown
{
    public static async Task RunAsync(long rows)
    {
        var path = Path.Combine(Path.GetTempPath(), $"formanova-breakdown-{Environment.ProcessId}.csv");
        CsvFixture.Write(path, rows);
        try
        {
            var schema = new Formanova.Modules.Data.Schema.CompiledSchema(1, CsvFixture.Columns);
            for (var round = 0; round < 2; round++)
            {
                var watch = Stopwatch.StartNew();
                await using (var file = File.OpenRead(path))
                {
                    using var reader = Formanova.Modules.Data.Import.RowSources.OpenText(file);
                    var parser = new Formanova.Modules.Data.Import.CsvParser(reader, ',', 1 << 20, 100);
                    while (await parser.ReadAsync(CancellationToken.None))
                    {
                    }
                }

                var parse = watch.Elapsed;
                watch.Restart();
                await using (var file = File.OpenRead(path))
                {
                    await foreach (var row in Formanova.Modules.Data.Import.RowSources
                        .ReadCsvAsync(file, schema, ',', 1 << 20, 100, CancellationToken.None))
                    {
                    }
                }

                var validate = watch.Elapsed;
                watch.Restart();
                var buffer = new System.Buffers.ArrayBufferWriter<byte>();
                await using (var file = File.OpenRead(path))
                {
                    await foreach (var row in Formanova.Modules.Data.Import.RowSources
                        .ReadCsvAsync(file, schema, ',', 1 << 20, 100, CancellationToken.None))
                    {
                        _ = schema.EntityHash(row.Values);
                        _ = Formanova.Modules.Data.Storage.RowCodec.Encode(row.Values, buffer);
                    }
                }

                var encode = watch.Elapsed;
                Console.WriteLine($"round {round}: parse {rows / parse.TotalSeconds:N0} rows/s; +validate " +
                    $"{rows / validate.TotalSeconds:N0} rows/s; +encode {rows / encode.TotalSeconds:N0} rows/s");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
