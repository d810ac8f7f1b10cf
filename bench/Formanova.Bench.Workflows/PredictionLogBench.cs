using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

/// <summary>
/// What one synchronous prediction (POST /api/v1/predictions, the workflow path) writes to standard output at the
/// default levels of appsettings.json, in the production format (JSON console lines with scopes): bytes and lines
/// per prediction, plain and with two retried attempts, and the logger categories that write them. The retries are
/// real: those predictions call the external service (<c>callExternal</c>), a loopback endpoint that answers 503
/// twice and then 200, so <c>call_external_service</c> fails twice and succeeds on its third attempt. Predictions
/// run one at a time, which is how the endpoint's count keeps each prediction's three calls together. Standard
/// output is redirected into a byte counter, so the host's other lines in the same window count too (the breakdown
/// shows them). Usage: prediction-log [predictions per kind and round=50] [rounds=3].
/// </summary>
internal static class PredictionLogBench
{
    /// <summary>
    /// The worker interceptor's line for a failed attempt: level and category, as the JSON line has them side by side
    /// (the SDK's own line names the interceptor too, in its stack trace).
    /// </summary>
    private const string RetryLine = "\"LogLevel\":\"Warning\",\"Category\":\"Formanova.Host.Telemetry.TemporalWorkerInterceptor\"";

    public static async Task RunAsync(string[] args)
    {
        var predictions = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 50;
        var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;

        var report = Console.Out;
        var counter = new CountingWriter();
        // Before the hosts are built: the console logger keeps the writer it finds at construction.
        Console.SetOut(counter);

        var calls = 0;
        var builder = WebApplication.CreateSlimBuilder();
        // The stand-in service's own lines are not the host's.
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        await using var service = builder.Build();
        service.MapPost("/enrich", () => Interlocked.Increment(ref calls) % 3 == 0
            ? Results.Json(new { riskBand = "low" })
            : Results.StatusCode(StatusCodes.Status503ServiceUnavailable));
        await service.StartAsync();

        var data = Directory.CreateTempSubdirectory("formanova-bench-prediction-log-").FullName;
        var (factory, client) = await BenchHost.StartAsync(data, new Dictionary<string, string?>
        {
            ["Api:RequestLogging"] = "true",
            ["Model:Bootstrap:Rows"] = "2000",
            ["Workflows:ExternalService:Url"] = $"{service.Urls.First()}/enrich",
            // A short backoff keeps the run short; the lines written do not depend on it.
            ["Workflows:Retry:InitialIntervalSeconds"] = "0.05",
            ["Workflows:Retry:MaximumIntervalSeconds"] = "0.2",
            ["Workflows:SyncTimeoutSeconds"] = "30",
        }.Concat(BenchHost.ProductionLogging).ToDictionary());

        var inputs = BenchHost.DemoInputs();
        var kinds = new (string Name, object Body)[]
        {
            ("plain", new { model = "demo-churn", inputs, @params = new { useCache = false } }),
            ("2 retries", new { model = "demo-churn", inputs, callExternal = true, @params = new { useCache = false } }),
        };

        // Warm-up, not counted: the first prediction loads the model and logs it.
        foreach (var (_, body) in kinds)
        {
            await PredictAsync(client, body);
        }

        var results = kinds.ToDictionary(k => k.Name, _ => new List<(double Bytes, double Lines)>());
        var breakdown = new Dictionary<string, Dictionary<string, (double Bytes, double Lines)>>();
        for (var round = 0; round < rounds; round++)
        {
            foreach (var (name, body) in kinds)
            {
                await counter.SettleAsync();
                var (bytes, lines) = counter.Snapshot();
                var categories = counter.Categories();
                for (var i = 0; i < predictions; i++)
                {
                    await PredictAsync(client, body);
                }

                await counter.SettleAsync();
                var (bytesAfter, linesAfter) = counter.Snapshot();
                results[name].Add(((double)(bytesAfter - bytes) / predictions, (double)(linesAfter - lines) / predictions));
                breakdown[name] = counter.Categories().ToDictionary(
                    c => c.Key,
                    c => (
                        (double)(c.Value.Bytes - categories.GetValueOrDefault(c.Key).Bytes) / predictions,
                        (double)(c.Value.Lines - categories.GetValueOrDefault(c.Key).Lines) / predictions));
            }
        }

        Console.SetOut(report);
        report.WriteLine($"prediction log, POST /api/v1/predictions (sync, workflow path), {predictions} predictions per kind and " +
            $"round, one at a time, median of {rounds} rounds, appsettings.json levels, JSON console lines with scopes:");
        foreach (var (name, samples) in results)
        {
            report.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {name}: {BenchHost.Median(samples.Select(s => s.Bytes)):F0} bytes and " +
                $"{BenchHost.Median(samples.Select(s => s.Lines)):F2} lines of stdout per prediction; last round by category:"));
            foreach (var (category, (bytes, lines)) in breakdown[name].Where(c => c.Value.Lines > 0).OrderByDescending(c => c.Value.Bytes))
            {
                report.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {category}: {bytes:F0} bytes, {lines:F2} lines"));
            }
        }

        report.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  external-service calls: {calls} (3 per retried prediction: 2 answered 503, the third 200)"));
        report.WriteLine($"  a request line: {counter.LastLine(l => l.Contains("RequestLogMiddleware", StringComparison.Ordinal))}");
        report.WriteLine($"  a retry line: {counter.LastLine(l => l.Contains(RetryLine, StringComparison.Ordinal))}");

        client.Dispose();
        await factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(data, recursive: true);
    }

    /// <summary>One synchronous prediction; a 202 (the run outlived Workflows:SyncTimeoutSeconds) would skew the count.</summary>
    private static async Task PredictAsync(HttpClient client, object body)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/predictions", body);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException(
                $"The prediction answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        _ = await response.Content.ReadFromJsonAsync<JsonObject>();
    }
}
