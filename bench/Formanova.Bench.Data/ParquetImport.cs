using Formanova.Modules.Data;

/// <summary>
/// Parquet import against CSV import of the same rows, both through <see cref="IDataModule.ImportRowsAsync"/> as the
/// CSV import figures are measured (parse, validate, encode, write), on each provider. The Parquet file is the
/// module's own export of the imported CSV (row groups of <c>Data:ExportRowGroupRows</c>), so both hold the same
/// values; the Parquet import's time includes copying the upload to its temporary file.
/// </summary>
internal static class ParquetImport
{
    public static async Task RunAsync(BenchOptions options, string? postgres, string work)
    {
        Console.WriteLine($"# Parquet vs CSV import {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET "
            + $"{Environment.Version}, rows={options.Rows}, runs={options.Runs}");
        var csv = Path.Combine(work, "rows.csv");
        var parquet = Path.Combine(work, "rows.parquet");
        CsvFixture.Write(csv, options.Rows);

        var providers = new List<(string Name, Func<Task<(IAsyncDisposable? Database, Dictionary<string, string?> Settings)>> Open)>();
        if (postgres is not null)
        {
            providers.Add(("PostgreSQL", async () =>
            {
                var database = await BenchDatabase.CreatePostgresAsync(postgres);
                return (database, database.Settings);
            }
            ));
        }
        else
        {
            Console.WriteLine("FORMANOVA_TEST_POSTGRES is not set: PostgreSQL figures skipped.");
        }

        if (!options.SkipSqlite)
        {
            var sqlite = new Dictionary<string, string?>
            {
                ["Formanova:DataDirectory"] = work,
                ["Database:Provider"] = "Sqlite",
                ["Database:SqlitePath"] = "bench-parquet.db",
            };
            providers.Add(("SQLite", () => Task.FromResult<(IAsyncDisposable?, Dictionary<string, string?>)>((null, sqlite))));
        }

        foreach (var (name, open) in providers)
        {
            var (database, settings) = await open();
            try
            {
                await using var host = await ModuleHost.StartAsync(settings);
                if (!File.Exists(parquet))
                {
                    var dataset = await Imports.ImportOnceAsync(host.Data, csv);
                    await using var output = File.Create(parquet);
                    await host.Data.ExportAsync(dataset, ExportFormat.Parquet, output);
                    Console.WriteLine($"CSV fixture {new FileInfo(csv).Length / 1048576.0:F1} MiB, "
                        + $"Parquet fixture {output.Length / 1048576.0:F1} MiB, 12 columns");
                }

                var csvTime = await Measure.MedianAsync(options.Runs, () => Imports.RunAsync(host.Data, csv, options.Rows));
                var parquetTime = await Measure.MedianAsync(
                    options.Runs,
                    () => Imports.RunAsync(host.Data, parquet, options.Rows, ImportFormat.Parquet));
                Console.WriteLine(
                    $"{name} CSV import: median {csvTime.TotalSeconds:F2} s = {options.Rows / csvTime.TotalSeconds:N0} rows/s");
                Console.WriteLine(
                    $"{name} Parquet import: median {parquetTime.TotalSeconds:F2} s = {options.Rows / parquetTime.TotalSeconds:N0} rows/s");
                Console.WriteLine($"  ratio Parquet/CSV throughput: {csvTime.TotalSeconds / parquetTime.TotalSeconds:F2} (target >= 1)");
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
}
