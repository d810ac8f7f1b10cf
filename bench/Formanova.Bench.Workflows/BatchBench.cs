using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Npgsql;
using NpgsqlTypes;

/// <summary>
/// The batch case of docs/benchmarks.md (Workflows): one batch job of N rows through POST /api/v1/batch-jobs on the
/// real host (embedded Temporal), with the job's own per-stage timings, then the raw floor in the same process on the
/// same rows: a plain Npgsql keyset read of the stored payloads, a plain ML.NET PredictionEngine on a hand-written
/// typed class (two threads, inputs converted beforehand), and a binary COPY of the predictions into a plain table.
/// The module's own positional batch predict on the same rows is printed beside it, outside the floor.
/// Usage: batch [rows=1000000] [postgres|sqlite] [chunkSize=50000] [parallelism=2] [warm|warmjob] [jobs=N] [numeric];
/// with "warm", 200,000 module predictions run untimed before the job, so its predict stage, like the raw floor after
/// it, runs on tiered-up code; "warmjob" also runs an untimed job of 200,000 rows in 80 chunks first, as on a server
/// that has run batch jobs before. "jobs=N" runs the timed job N times in a row. "numeric" runs the job (and the
/// floor) with a second model, trained here on the dataset's eight numeric and boolean columns only, instead of the
/// demo model with its categorical and free-text features: the same pipeline around a model whose own cost is a
/// fraction of the demo model's.
/// </summary>
internal static class BatchBench
{
    public static async Task RunAsync(string[] args)
    {
        var rows = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000;
        var storage = args.Length > 2 ? args[2] : "postgres";
        var chunkSize = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 50_000;
        var parallelism = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 2;
        var directory = Directory.CreateTempSubdirectory("formanova-bench-batch-").FullName;
        var admin = Environment.GetEnvironmentVariable("FORMANOVA_TEST_POSTGRES");
        string? database = null;
        var settings = new Dictionary<string, string?>();
        if (storage == "postgres")
        {
            if (admin is null)
            {
                throw new InvalidOperationException("Set FORMANOVA_TEST_POSTGRES (eval \"$(scripts/test-services.sh start)\").");
            }

            database = $"fn_bench_{Guid.NewGuid():N}";
            await using (var connection = new NpgsqlConnection(admin))
            {
                await connection.OpenAsync();
                await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database}\"", connection);
                await create.ExecuteNonQueryAsync();
            }

            settings["Database:Provider"] = "Postgres";
            settings["Database:ConnectionString"] = new NpgsqlConnectionStringBuilder(admin) { Database = database }.ConnectionString;
        }

        try
        {
            var (factory, client) = await BenchHost.StartAsync(directory, settings);
            await using var host = factory;

            var models = factory.Services.GetRequiredService<IModelModule>();
            var data = factory.Services.GetRequiredService<IDataModule>();
            var datasetId = await ImportAsync(data, rows);
            Console.WriteLine($"{storage}: imported {rows} rows into dataset {datasetId}");

            var flags = args.Skip(5).ToHashSet();
            var mode = flags.Contains("warmjob") ? "warmjob" : flags.Contains("warm") ? "warm" : "";
            var modelName = flags.Contains("numeric") ? await TrainNumericAsync(models, data, datasetId) : "demo-churn";
            var model = await models.GetModelAsync(modelName);
            var version = await models.GetVersionAsync(modelName, model.ActiveVersion!);
            var features = version.Columns.Where(c => !c.IsLabel).ToList();
            var featureList = string.Join(", ", features.Select(f => $"{f.Name}:{f.Kind}"));
            Console.WriteLine(
                $"model {modelName} {version.Version}: {version.Task}, trainer {version.Trainer}, "
                + $"{features.Count} features ({featureList})");

            if (mode is "warm" or "warmjob")
            {
                var warm = await PrepareAsync(data, datasetId, features.Select(f => f.Name).ToHashSet(), 200_000);
                await ModulePredictAsync(models, modelName, warm);
            }

            // The job, end to end through the REST API.
            async Task<(JsonObject Job, double Seconds, double Cpu)> RunJobAsync(long dataset, int size)
            {
                var process = Process.GetCurrentProcess();
                var cpuBefore = process.TotalProcessorTime;
                var watch = Stopwatch.StartNew();
                var started = await client.PostAsJsonAsync(
                    "/api/v1/batch-jobs",
                    new { model = modelName, datasetId = dataset, chunkSize = size, parallelism });
                var location = started.EnsureSuccessStatusCode().Headers.Location!.ToString();
                JsonObject job;
                var slowestPoll = 0.0;
                do
                {
                    await Task.Delay(100);
                    var poll = Stopwatch.StartNew();
                    job = (await client.GetFromJsonAsync<JsonObject>(location))!;
                    slowestPoll = Math.Max(slowestPoll, poll.Elapsed.TotalSeconds);
                }
                while ((string)job["status"]! is "running" or "paused");
                if (slowestPoll > 1)
                {
                    Console.WriteLine($"  slowest GET {location}: {slowestPoll:F2} s");
                }

                process.Refresh();
                var elapsed = watch.Elapsed.TotalSeconds;
                await SlowestGapsAsync(factory.Services, location[(location.LastIndexOf('/') + 1)..]);
                return (job, elapsed, (process.TotalProcessorTime - cpuBefore).TotalSeconds);
            }

            if (mode == "warmjob")
            {
                // A server that has run batch jobs before: every stage of the job path (activities, reads, COPY,
                // workflow tasks, polling) has been compiled and tiered up, which a first job pays for in JIT time.
                // Small chunks, so that code run once per chunk passes the runtime's 30-call tier-up threshold too.
                var small = await ImportAsync(data, 200_000);
                var (warmJob, warmSeconds, warmCpu) = await RunJobAsync(small, 2_500);
                var warmTimings = warmJob["result"]!["Timings"]!;
                double WarmS(string name) => (double)warmTimings[name]! / 1000;
                Console.WriteLine(
                    $"warm-up job (untimed): 200000 rows in 80 chunks of 2500, {warmJob["status"]} in {warmSeconds:F1} s, "
                    + $"{warmCpu * 5:F1} µs CPU per row; plan {WarmS("PlanMs"):F2} s, chunks' read {WarmS("ReadMs"):F2} s, "
                    + $"predict {WarmS("PredictMs"):F2} s, write {WarmS("WriteMs"):F2} s");
            }

            // jobs=N times the same job N times in a row: the later ones run on a process whose job path has been
            // compiled and tiered up, as on a server that has been up for a while. The floor is compared with the last.
            var repeat = flags.Where(f => f.StartsWith("jobs=", StringComparison.Ordinal))
                .Select(f => int.Parse(f[5..], CultureInfo.InvariantCulture))
                .DefaultIfEmpty(1)
                .First();
            var rates = new List<double>();
            JsonObject job = null!;
            double seconds = 0, cpu = 0;
            long done = 0;
            for (var run = 1; run <= repeat; run++)
            {
                (job, seconds, cpu) = await RunJobAsync(datasetId, chunkSize);
                var result = job["result"]!;
                var timings = result["Timings"]!;
                double Ms(string name) => (double)timings[name]!;
                done = (long)result["Rows"]!;
                rates.Add(done / seconds);
                Console.WriteLine(
                    $"batch job {run} of {repeat}, {done} rows (chunk {chunkSize}, parallelism {parallelism}, "
                    + $"{(int)result["Chunks"]!} chunks, {(int)result["Runs"]!} runs): {job["status"]} in {seconds:F1} s = "
                    + $"{done / seconds:F0} rows/s; process CPU {cpu:F1} s = {cpu * 1e6 / done:F1} µs/row");
                var lanes = Math.Min(parallelism, (int)result["Chunks"]!);
                var busy = (Ms("ReadMs") + Ms("PredictMs") + Ms("WriteMs")) / 1000 / lanes;
                Console.WriteLine(
                    $"  plan {Ms("PlanMs") / 1000:F2} s; per lane (sum over chunks / {lanes}): "
                    + $"read {Ms("ReadMs") / 1000 / lanes:F2} s, predict {Ms("PredictMs") / 1000 / lanes:F2} s, "
                    + $"write {Ms("WriteMs") / 1000 / lanes:F2} s; "
                    + $"workflow overhead (wall - plan - lane time) {seconds - (Ms("PlanMs") / 1000) - busy:F2} s");
            }

            if (repeat > 1)
            {
                rates.Sort();
                Console.WriteLine($"median of {repeat} jobs: {rates[rates.Count / 2]:F0} rows/s");
            }

            // The floor, same rows, same process, one stage after the other.
            var raw = await RawAsync(
                data,
                models,
                modelName,
                version.Version,
                datasetId,
                storage == "postgres" ? settings["Database:ConnectionString"] : null,
                features.Select(f => f.Name).ToHashSet());
            var rawTotal = raw.Read + raw.Predict + raw.Write;
            Console.WriteLine(
                $"raw floor: read {raw.Read:F2} s ({raw.ReadWhat}), predict {raw.Predict:F2} s "
                + "(plain ML.NET PredictionEngine on a typed class, 2 threads, inputs prepared), "
                + $"write {raw.Write:F2} s ({raw.WriteWhat}); sum {rawTotal:F2} s = {done / rawTotal:F0} rows/s");
            Console.WriteLine(
                "module predict alone (not part of the floor): IModelModule.PredictRowsAsync, 10000-row calls on every core, "
                + $"inputs prepared: {raw.Module:F2} s = {done / raw.Module:F0} rows/s, {raw.ModuleCpu * 1e6 / done:F1} µs CPU per row");
            var rawCpu = raw.ReadCpu + raw.PredictCpu + raw.WriteCpu;
            Console.WriteLine(
                $"raw floor CPU per row: read {raw.ReadCpu * 1e6 / done:F1} µs, predict {raw.PredictCpu * 1e6 / done:F1} µs, "
                + $"write {raw.WriteCpu * 1e6 / done:F1} µs; sum {rawCpu * 1e6 / done:F1} µs "
                + "(bench process only: PostgreSQL's own CPU is not counted on either side)");
            Console.WriteLine(
                $"ratio job / raw floor: {done / seconds / (done / rawTotal):F2}x by wall time, {rawCpu / cpu:F2}x by process CPU per row");
            await factory.DisposeAsync();
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (database is not null)
            {
                await using var connection = new NpgsqlConnection(admin);
                await connection.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", connection);
                await drop.ExecuteNonQueryAsync();
            }

            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Where a job waited: the three longest gaps between consecutive events of its (last run's) history.</summary>
    private static async Task SlowestGapsAsync(IServiceProvider services, string jobId)
    {
        var temporal = services.GetRequiredService<Temporalio.Client.ITemporalClient>();
        var events = (await temporal.GetWorkflowHandle(jobId).FetchHistoryAsync()).Events.ToList();
        var gaps = BenchHost.Gaps(events).OrderByDescending(g => g.Milliseconds).Take(3);
        Console.WriteLine($"  {jobId}: {events.Count} history events; longest gaps: " +
            string.Join(
                "; ",
                gaps.Select(g => $"{g.Milliseconds / 1000:F2} s {g.From.EventId} {g.From.EventType} -> {g.To.EventId} {g.To.EventType}")));
    }

    /// <summary>A dataset of synthetic customers in the demo model columns, plus an id column.</summary>
    internal static async Task<long> ImportAsync(IDataModule data, int rows)
    {
        var columns = new List<ColumnDefinition>
        {
            new("customer_id", ColumnType.Text, Role: ColumnRole.Id),
            new("tenure_months", ColumnType.Numeric), new("monthly_charges", ColumnType.Numeric), new("total_charges", ColumnType.Numeric),
            new("support_calls", ColumnType.Numeric), new("age", ColumnType.Numeric), new("data_usage_gb", ColumnType.Numeric),
            new("contract", ColumnType.Categorical), new("payment_method", ColumnType.Categorical), new(
                "paperless_billing",
                ColumnType.Boolean),
            new("has_partner", ColumnType.Boolean), new("feedback", ColumnType.Text),
        };
        var dataset = await data.CreateDatasetAsync(new CreateDatasetRequest($"bench-batch-{rows}", columns));
        var csv = new StringBuilder(rows * 80).Append(string.Join(',', columns.Select(c => c.Name))).Append('\n');
        var random = new Random(5);
        string[] contracts = ["month-to-month", "one-year", "two-year"];
        string[] payments = ["card", "electronic-check", "bank-transfer"];
        string[] feedback = ["ok", "too expensive", "great service", "slow network"];
        for (var i = 0; i < rows; i++)
        {
            csv.Append(
                    CultureInfo.InvariantCulture,
                    $"c{i},{random.Next(72)},{20 + random.Next(100)},{random.Next(5000)},{random.Next(9)},"
                    + $"{18 + random.Next(60)},{random.Next(50)},")
                .Append(contracts[random.Next(3)]).Append(',').Append(payments[random
                    .Next(3)]).Append(',').Append(random.Next(2) == 0 ? "true" : "false")
                .Append(',').Append(random.Next(2) == 0 ? "true" : "false").Append(',').Append(feedback[random.Next(4)]).Append('\n');
        }

        await using var stream = new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString()));
        var report = await data.ImportRowsAsync(dataset.Id, stream, new ImportOptions(ImportFormat.Csv));
        if (report.RowsAccepted != rows)
        {
            throw new InvalidOperationException($"Import accepted {report.RowsAccepted} of {rows} rows.");
        }

        return dataset.Id;
    }

    /// <summary>
    /// Trains and activates <c>bench-numeric</c> 1.0.0 (the default FastTree) on the first 20,000 rows of the dataset,
    /// with its eight numeric and boolean columns as features and a churn label drawn from a noisy rule over them.
    /// </summary>
    private static async Task<string> TrainNumericAsync(IModelModule models, IDataModule data, long datasetId)
    {
        string[] names =
        [
            "tenure_months", "monthly_charges", "total_charges", "support_calls",
            "age", "data_usage_gb", "paperless_billing", "has_partner",
        ];
        var sample = await PrepareAsync(data, datasetId, [.. names], 20_000);
        var positions = names.Select(n => Array.IndexOf(sample.Columns, n)).ToArray();
        var random = new Random(11);
        var rows = sample.Rows.Select(r =>
        {
            var values = positions.Select(p => r[p]).ToArray();
            var risk = -1.0 - (0.04 * (double)values[0]!) + (0.02 * ((double)values[1]! - 70)) + (0.45 * (double)values[3]!)
                + (random.NextDouble() - 0.5);
            return (object?[])[.. values, risk > 0];
        }).ToList();
        var columns = names.Select(
            n => new ModelColumn(n, n is "paperless_billing" or "has_partner" ? ColumnKind.Boolean : ColumnKind.Numeric))
            .Append(new ModelColumn("churned", ColumnKind.Boolean, IsLabel: true)).ToList();
        var trained = await models.TrainAsync(
            new TrainModelRequest("bench-numeric", "1.0.0", ModelTask.BinaryClassification, columns, Activate: true),
            rows.ToAsyncEnumerable());
        Console.WriteLine(
            $"trained bench-numeric 1.0.0 on {trained.TrainRows} rows in {trained.TrainingSeconds:F1} s, "
            + $"auc {trained.Metrics.GetValueOrDefault("auc"):F3}");
        return "bench-numeric";
    }

    private sealed record Raw(
        double Read,
        string ReadWhat,
        double Predict,
        double Write,
        string WriteWhat,
        double ReadCpu,
        double PredictCpu,
        double WriteCpu,
        double Module,
        double ModuleCpu);

    /// <summary>Rows as the job hands them to the model: positional, with the columns the model does not take named null.</summary>
    private sealed record Prepared(List<long> Ids, string?[] Columns, List<object?[]> Rows);

    /// <summary>Up to <paramref name="limit"/> rows of the dataset, read through the Data module.</summary>
    private static async Task<Prepared> PrepareAsync(IDataModule data, long datasetId, HashSet<string> features, long limit)
    {
        var prepared = new Prepared([], [], []);
        await foreach (var chunk in ChunksAsync(data, datasetId))
        {
            prepared = prepared with { Columns = [.. chunk.Columns.Select(c => features.Contains(c.Name) ? c.Name : null)] };
            prepared.Ids.AddRange(chunk.RowIds);
            prepared.Rows.AddRange(chunk.Rows);
            if (prepared.Ids.Count >= limit)
            {
                break;
            }
        }

        return prepared;
    }

    /// <summary>The whole dataset through the Data module, 100,000 rows per keyset read.</summary>
    private static async IAsyncEnumerable<RowChunk> ChunksAsync(IDataModule data, long datasetId)
    {
        for (var cursor = 0L; ;)
        {
            var chunk = await data.ReadRowChunkAsync(datasetId, cursor, 100_000);
            if (chunk.RowIds.Count == 0)
            {
                yield break;
            }

            yield return chunk;
            cursor = chunk.RowIds[^1];
        }
    }

    private static async Task ModulePredictAsync(IModelModule models, string modelName, Prepared prepared)
    {
        for (var offset = 0; offset < prepared.Rows.Count; offset += 10_000)
        {
            await models.PredictRowsAsync(new PredictRowsRequest(
                modelName,
                prepared.Columns,
                prepared.Rows.GetRange(offset, Math.Min(10_000, prepared.Rows.Count - offset))));
        }
    }

    private static double Cpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime.TotalSeconds;
    }

    private static async Task<Raw> RawAsync(
        IDataModule data,
        IModelModule models,
        string modelName,
        string version,
        long datasetId,
        string? postgres,
        HashSet<string> features)
    {
        // Inputs for the predict floor come from the module's own read, converted to the typed class outside the timed part.
        var prepared = await PrepareAsync(data, datasetId, features, long.MaxValue);
        var ids = prepared.Ids;
        var typed = prepared.Rows.Select(r => RawRow.From(prepared.Columns, r)).ToArray();
        var ml = new MLContext();
        ITransformer transformer;
        await using (var zip = await models.OpenArtifactAsync(modelName, version))
        {
            transformer = ml.Model.Load(zip, out _);
        }

        var engines = Enumerable.Range(0, 2).Select(_ => ml.Model.CreatePredictionEngine<RawRow, RawOutput>(transformer)).ToArray();
        var labels = new string?[typed.Length];
        var scores = new double?[typed.Length];
        var cpu = Cpu();
        var watch = Stopwatch.StartNew();
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, part =>
        {
            var output = new RawOutput();
            for (var i = part; i < typed.Length; i += 2)
            {
                engines[part].Predict(typed[i], ref output);
                labels[i] = output.PredictedLabel ? "true" : "false";
                scores[i] = output.Score;
            }
        });

        var predict = watch.Elapsed.TotalSeconds;
        var predictCpu = Cpu() - cpu;
        typed = [];

        // The module's own positional batch on the same rows, for the split between module and job overhead.
        cpu = Cpu();
        watch.Restart();
        await ModulePredictAsync(models, modelName, prepared);
        var module = watch.Elapsed.TotalSeconds;
        var moduleCpu = Cpu() - cpu;
        prepared.Rows.Clear();
        if (postgres is null)
        {
            cpu = Cpu();
            watch.Restart();
            await foreach (var _ in ChunksAsync(data, datasetId))
            {
            }

            return new Raw(
                watch.Elapsed.TotalSeconds,
                "SQLite: IDataModule.ReadRowChunkAsync, decoded",
                predict,
                0,
                "no raw SQLite write measured",
                Cpu() - cpu,
                predictCpu,
                0,
                module,
                moduleCpu);
        }

        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        cpu = Cpu();
        watch.Restart();
        long bytes = 0, count = 0;
        for (var after = 0L; ;)
        {
            await using var command = new NpgsqlCommand(
                "SELECT id, payload FROM data_rows WHERE dataset_id = @d AND id > @a ORDER BY id LIMIT 100000",
                connection);
            command.Parameters.AddWithValue("d", datasetId);
            command.Parameters.AddWithValue("a", after);
            await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess);
            var read = 0;
            while (await reader.ReadAsync())
            {
                after = reader.GetInt64(0);
                bytes += reader.GetFieldValue<byte[]>(1).Length;
                read++;
            }

            count += read;
            if (read < 100_000)
            {
                break;
            }
        }

        var readSeconds = watch.Elapsed.TotalSeconds;
        var readCpu = Cpu() - cpu;
        await using (var create = new NpgsqlCommand(
            "CREATE UNLOGGED TABLE bench_predictions (row_id bigint, label text, value double precision, score double precision)",
            connection))
        {
            await create.ExecuteNonQueryAsync();
        }

        cpu = Cpu();
        watch.Restart();
        await using (var importer = await connection.BeginBinaryImportAsync("COPY bench_predictions FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < labels.Length; i++)
            {
                await importer.StartRowAsync();
                await importer.WriteAsync(ids[i], NpgsqlDbType.Bigint);
                await WriteNullableAsync(importer, labels[i], NpgsqlDbType.Text);
                await WriteNullableAsync(importer, (double?)null, NpgsqlDbType.Double);
                await WriteNullableAsync(importer, scores[i], NpgsqlDbType.Double);
            }

            await importer.CompleteAsync();
        }

        var writeSeconds = watch.Elapsed.TotalSeconds;
        return new Raw(
            readSeconds,
            $"Npgsql keyset SELECT id, payload, {count} rows, {bytes / 1e6:F0} MB, not decoded",
            predict,
            writeSeconds,
            "Npgsql binary COPY into an unlogged 4-column table",
            readCpu,
            predictCpu,
            Cpu() - cpu,
            module,
            moduleCpu);
    }

    private static async Task WriteNullableAsync<T>(NpgsqlBinaryImporter importer, T? value, NpgsqlDbType type)
    {
        if (value is null)
        {
            await importer.WriteNullAsync();
        }
        else
        {
            await importer.WriteAsync(value, type);
        }
    }

    /// <summary>The demo model's eleven inputs as a compile-time class: the typed baseline the module is measured against.</summary>
    private sealed class RawRow
    {
#pragma warning disable CA1051, SA1401
        [ColumnName("tenure_months")]
        public float TenureMonths;
        [ColumnName("monthly_charges")]
        public float MonthlyCharges;
        [ColumnName("total_charges")]
        public float TotalCharges;
        [ColumnName("support_calls")]
        public float SupportCalls;
        [ColumnName("age")]
        public float Age;
        [ColumnName("data_usage_gb")]
        public float DataUsageGb;
        [ColumnName("paperless_billing")]
        public float PaperlessBilling;
        [ColumnName("has_partner")]
        public float HasPartner;
        [ColumnName("contract")]
        public string Contract = "";
        [ColumnName("payment_method")]
        public string PaymentMethod = "";
        [ColumnName("feedback")]
        public string Feedback = "";
#pragma warning restore CA1051, SA1401

        public static RawRow From(string?[] columns, object?[] values)
        {
            object? V(string name) => Array.IndexOf(columns, name) is >= 0 and var i ? values[i] : null;
            static float F(object? v) => v switch { double d => (float)d, bool b => b ? 1 : 0, _ => float.NaN };
            return new RawRow
            {
                TenureMonths = F(V("tenure_months")),
                MonthlyCharges = F(V("monthly_charges")),
                TotalCharges = F(V("total_charges")),
                SupportCalls = F(V("support_calls")),
                Age = F(V("age")),
                DataUsageGb = F(V("data_usage_gb")),
                PaperlessBilling = F(V("paperless_billing")),
                HasPartner = F(V("has_partner")),
                Contract = V("contract") as string ?? "",
                PaymentMethod = V("payment_method") as string ?? "",
                Feedback = V("feedback") as string ?? "",
            };
        }
    }

    private sealed class RawOutput
    {
#pragma warning disable CA1051, SA1401
        public bool PredictedLabel;
        public float Score;
#pragma warning restore CA1051, SA1401
    }
}
