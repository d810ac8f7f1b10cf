using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Formanova.Modules.Event;
using Formanova.Modules.Shared;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Npgsql;

// Event module benchmarks, each beside its raw baseline in the same run:
//   append:  IEventModule.PublishAsync (group commit) vs raw single-row INSERT into the same table, PostgreSQL
//   stream:  publish-to-receive latency over SSE with 1 subscriber vs N subscribers (Kestrel on loopback)
// Usage: dotnet run -c Release --project bench/Formanova.Bench.Event -- [--seconds 5] [--repeats 3] [--subscribers 1000] [--events 50]
// [--only append|stream]
// Needs FORMANOVA_TEST_POSTGRES (scripts/test-services.sh start prints it); a scratch database is created and dropped.
var options = Args.Parse(args);
var admin = Environment.GetEnvironmentVariable("FORMANOVA_TEST_POSTGRES")
    ?? throw new InvalidOperationException("Set FORMANOVA_TEST_POSTGRES (eval \"$(scripts/test-services.sh start)\").");
var databaseName = $"fn_bench_{Guid.NewGuid():N}";
await using (var connection = new NpgsqlConnection(admin))
{
    await connection.OpenAsync();
    await new NpgsqlCommand($"CREATE DATABASE \"{databaseName}\"", connection).ExecuteNonQueryAsync();
}

var connectionString = new NpgsqlConnectionStringBuilder(admin) { Database = databaseName, MaxPoolSize = 100 }.ConnectionString;
var dataDirectory = Directory.CreateTempSubdirectory("formanova-bench-").FullName;
try
{
    await using var app = await StartHostAsync(connectionString, dataDirectory);
    Console.WriteLine($"# Event benchmarks {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {options}");
    if (options.Only is null or "append")
    {
        await AppendBenchmark.RunAsync(app.Services.GetRequiredService<IEventModule>(), connectionString, options);
    }

    if (options.Only is null or "stream")
    {
        await StreamBenchmark.RunAsync(app, options);
    }
}
finally
{
    NpgsqlConnection.ClearAllPools();
    await using var connection = new NpgsqlConnection(admin);
    await connection.OpenAsync();
    await new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{databaseName}\" WITH (FORCE)", connection).ExecuteNonQueryAsync();
    Directory.Delete(dataDirectory, recursive: true);
}

static async Task<WebApplication> StartHostAsync(string connectionString, string dataDirectory)
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.WebHost.UseUrls("http://127.0.0.1:0");
    builder.Logging.ClearProviders();
    builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["Formanova:DataDirectory"] = dataDirectory,
        ["Database:Provider"] = "Postgres",
        ["Database:ConnectionString"] = connectionString,
        ["Database:MaxPoolSize"] = "100",
        ["Event:Broadcast:SubscriberBufferSize"] = "10000",
        ["Event:Webhooks:Dispatcher:Enabled"] = "false",
    });
    builder.Services.AddFormanovaInfrastructure(builder.Configuration);
    builder.Services.AddEventModule(builder.Configuration);
    builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxConcurrentConnections = null);
    var app = builder.Build();
    app.MapGroup("/api/v1").MapEventEndpoints();
    await app.StartAsync();
    return app;
}

internal sealed record Args(int Seconds, int Repeats, int Subscribers, int Events, string? Only)
{
    public static Args Parse(string[] args)
    {
        int Get(string name, int fallback)
        {
            var index = Array.IndexOf(args, name);
            return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
        }

        var only = Array.IndexOf(args, "--only") is var at and >= 0 && at + 1 < args.Length ? args[at + 1] : null;
        return new Args(Get("--seconds", 5), Get("--repeats", 3), Get("--subscribers", 1000), Get("--events", 50), only);
    }
}

internal static class AppendBenchmark
{
    private const string RawInsert = """
        INSERT INTO event_log (idempotency_key, type, source, subject, time, correlation_id, data)
        VALUES (@k, @t, @s, NULL, @m, NULL, @d)
        """;

    private static readonly string Data = JsonSerializer.Serialize(
        new { model = "churn", version = 3, metrics = new { auc = 0.91, f1 = 0.84 } });

    public static async Task RunAsync(IEventModule events, string connectionString, Args options)
    {
        Console.WriteLine();
        Console.WriteLine("## Append to PostgreSQL (events/s, median of repeats)");
        Console.WriteLine("| variant | concurrency | runs (events/s) | median events/s |");
        Console.WriteLine("|---|---|---|---|");
        var raw1 = await MeasureAsync("raw single-row INSERT", 1, options, (_, ct) => RawAsync(connectionString, ct));
        var raw16 = await MeasureAsync("raw single-row INSERT", 16, options, (_, ct) => RawAsync(connectionString, ct));
        var publish16 = await MeasureAsync("IEventModule.PublishAsync", 16, options, (_, ct) => PublishAsync(events, ct));
        var publish64 = await MeasureAsync("IEventModule.PublishAsync", 64, options, (_, ct) => PublishAsync(events, ct));
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Ratios: PublishAsync×16 / raw×16 = {publish16 / raw16:0.00}; " +
            $"PublishAsync×64 / raw×16 = {publish64 / raw16:0.00}; raw×16 / raw×1 = {raw16 / raw1:0.00}"));
    }

    private static async Task<long> RawAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(RawInsert, connection);
        var key = command.Parameters.Add(new NpgsqlParameter("k", NpgsqlTypes.NpgsqlDbType.Text));
        command.Parameters.AddWithValue("t", "TRAINING_PROGRESS");
        command.Parameters.AddWithValue("s", "/workflows/bench/runs/1");
        var time = command.Parameters.Add(new NpgsqlParameter("m", NpgsqlTypes.NpgsqlDbType.TimestampTz));
        command.Parameters.AddWithValue("d", Data);
        long count = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            key.Value = Guid.NewGuid().ToString("N");
            time.Value = DateTimeOffset.UtcNow;
            await command.ExecuteNonQueryAsync(CancellationToken.None);
            count++;
        }

        return count;
    }

    private static async Task<long> PublishAsync(IEventModule events, CancellationToken cancellationToken)
    {
        var data = JsonDocument.Parse(Data).RootElement;
        long count = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            await events.PublishAsync(
                new PublishEventRequest("TRAINING_PROGRESS", "/workflows/bench/runs/1", data, IdempotencyKey: Guid.NewGuid().ToString("N")),
                CancellationToken.None);
            count++;
        }

        return count;
    }

    private static async Task<double> MeasureAsync(
        string name,
        int concurrency,
        Args options,
        Func<int, CancellationToken, Task<long>> worker)
    {
        long batches = 0, batched = 0;
        double commitMs = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name is "formanova.event.append.batch_size" or "formanova.event.append.duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, value, _, _) =>
        {
            Interlocked.Increment(ref batches);
            Interlocked.Add(ref batched, value);
        });
        listener.SetMeasurementEventCallback<double>((_, value, _, _) => commitMs += value);
        listener.Start();
        var rates = new List<double>();
        for (var run = 0; run < options.Repeats; run++)
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(options.Seconds));
            var started = Stopwatch.GetTimestamp();
            var counts = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(i => Task.Run(() => worker(i, stop.Token))));
            rates.Add(counts.Sum() / Stopwatch.GetElapsedTime(started).TotalSeconds);
        }

        var median = rates.Order().ElementAt(rates.Count / 2);
        var batching = batches == 0
            ? ""
            : string.Create(
                CultureInfo.InvariantCulture,
                $" (mean batch {(double)batched / batches:0.0} events, mean commit {commitMs / batches:0.0} ms)");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name}{batching} | {concurrency} | " +
            $"{string.Join(", ", rates.Select(r => r.ToString("0", CultureInfo.InvariantCulture)))} | {median:0} |"));
        return median;
    }
}

internal static class StreamBenchmark
{
    public static async Task RunAsync(WebApplication app, Args options)
    {
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var events = app.Services.GetRequiredService<IEventModule>();
        Console.WriteLine();
        Console.WriteLine("## Publish-to-receive latency over SSE (ms; from the PublishAsync call to the client reading the frame)");
        Console.WriteLine("| subscribers | events per run | runs: p99 | median p50 | median p99 | max |");
        Console.WriteLine("|---|---|---|---|---|---|");
        await MeasureAsync(address, events, 1, options);
        await MeasureAsync(address, events, options.Subscribers, options);
    }

    private static async Task MeasureAsync(string address, IEventModule events, int subscribers, Args options)
    {
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan
        };
        using var client = new HttpClient(handler) { BaseAddress = new Uri(address), Timeout = Timeout.InfiniteTimeSpan };
        using var stop = new CancellationTokenSource();
        var total = options.Events * options.Repeats;
        var samples = new List<double>[subscribers];
        using var connected = new CountdownEvent(subscribers);
        using var done = new CountdownEvent(subscribers);
        var source = $"/bench/{Guid.NewGuid():N}";
        var readers = Enumerable.Range(0, subscribers).Select(i => Task.Run(async () =>
        {
            samples[i] = new List<double>(total);
            using var response = await client.GetAsync(
                $"/api/v1/events/stream?source={source}",
                HttpCompletionOption.ResponseHeadersRead,
                stop.Token);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop.Token));
            connected.Signal();
            while (samples[i].Count < total && await reader.ReadLineAsync(stop.Token) is { } line)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    var now = Stopwatch.GetTimestamp();
                    // The client shares the two cores with the server: read the send stamp without a JSON parse.
                    var at = line.LastIndexOf("\"t\":", StringComparison.Ordinal) + 4;
                    var sent = long.Parse(line.AsSpan(at, line.IndexOf('}', at) - at), CultureInfo.InvariantCulture);
                    samples[i].Add(Stopwatch.GetElapsedTime(sent, now).TotalMilliseconds);
                }
            }

            done.Signal();
        })).ToList();

        if (!connected.Wait(TimeSpan.FromSeconds(120)))
        {
            throw new TimeoutException($"Only {subscribers - connected.CurrentCount} of {subscribers} SSE clients connected.");
        }

        for (var i = 0; i < total; i++)
        {
            var data = JsonSerializer.SerializeToElement(new { t = Stopwatch.GetTimestamp() });
            await events.PublishAsync(new PublishEventRequest("TRAINING_PROGRESS", source, data));
            await Task.Delay(100);
        }

        if (!done.Wait(TimeSpan.FromSeconds(60)))
        {
            Console.WriteLine($"warning: {done.CurrentCount} subscribers did not receive every event");
        }

        await stop.CancelAsync();
        await Task.WhenAll(readers.Select(r => r.ContinueWith(_ => { }, TaskScheduler.Default)));

        // Each client receives the events in order, so sample k of every client belongs to run k / Events.
        var runs = Enumerable.Range(0, options.Repeats)
            .Select(
                run => samples.Where(s => s is not null)
                    .SelectMany(s => s.Skip(run * options.Events).Take(options.Events))
                    .Order()
                    .ToList())
            .ToList();
        static double Percentile(List<double> sorted, double p)
            => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
        static double Median(IEnumerable<double> values) => values.Order().ElementAt(values.Count() / 2);
        var p99s = runs.Select(r => Percentile(r, 0.99)).ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {subscribers} | {options.Events} | " +
            $"{string.Join(", ", p99s.Select(p => p.ToString("0.0", CultureInfo.InvariantCulture)))} | " +
            $"{Median(runs.Select(r => Percentile(r, 0.5))):0.0} | {Median(p99s):0.0} | " +
            $"{runs.SelectMany(r => r).DefaultIfEmpty().Max():0.0} |"));
    }
}
