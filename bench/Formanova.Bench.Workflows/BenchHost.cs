using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc.Testing;
using HistoryEvent = Temporalio.Api.History.V1.HistoryEvent;

/// <summary>The real host for the benches: embedded Temporal on a free port, no rate limits, quiet logs, an admin key.</summary>
internal static class BenchHost
{
    private const string Key = "fnv_bench-admin-key-0123456789abcdef";

    /// <summary>
    /// appsettings.json's production logging (JSON console lines with scopes, its default levels), over the bench's
    /// quiet defaults and the Development file: what a deployment's stdout carries.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string?> ProductionLogging = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:Console:FormatterName"] = "json",
        ["Logging:Console:FormatterOptions:IncludeScopes"] = "true",
        ["Logging:Console:FormatterOptions:SingleLine"] = "false",
        ["Logging:Console:FormatterOptions:UseUtcTimestamp"] = "true",
        ["Logging:Console:FormatterOptions:TimestampFormat"] = "yyyy-MM-ddTHH:mm:ss.fffZ",
    };

    /// <summary>
    /// Starts the host with the bench settings (<paramref name="overrides"/> win) and returns it with an admin client
    /// once the demo model is active. The caller disposes the factory.
    /// </summary>
    public static async Task<(WebApplicationFactory<Program> Factory, HttpClient Client)> StartAsync(
        string dataDirectory,
        IReadOnlyDictionary<string, string?> overrides)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Formanova:DataDirectory"] = dataDirectory,
            ["Auth:BootstrapKey"] = Key,
            ["RateLimiting:Enabled"] = "false",
            ["Temporal:Embedded:Port"] = "0",
            // In-memory histories unless BENCH_TEMPORAL_STORAGE names a SQLite file (the service's default is temporal.db).
            ["Temporal:Embedded:StoragePath"] = Environment.GetEnvironmentVariable("BENCH_TEMPORAL_STORAGE") is { Length: > 0 } storage
                ? storage
                : ":memory:",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Api:RequestLogging"] = "false",
        };
        // The service's setting (appsettings.json) unless BENCH_DETECT_ESCAPES overrides it for an A/B run.
        if (Environment.GetEnvironmentVariable("BENCH_DETECT_ESCAPES") is { Length: > 0 } detect)
        {
            settings["Temporal:DetectWorkflowTaskEscapes"] = detect;
        }

        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(host =>
        {
            foreach (var (key, value) in settings)
            {
                host.UseSetting(key, value);
            }
        });
        var client = factory.CreateClient();
        // A 1M-row batch job's export and polls must not hit HttpClient's 100 s default.
        client.Timeout = TimeSpan.FromMinutes(30);
        client.DefaultRequestHeaders.Authorization = new("Bearer", Key);
        while ((await (await client.GetAsync("/api/v1/models/demo-churn")).Content
            .ReadFromJsonAsync<JsonObject>())?["activeVersion"] is null)
        {
            await Task.Delay(200);
        }

        return (factory, client);
    }

    /// <summary>One customer's inputs to the demo model, as the README's walkthrough sends them.</summary>
    public static Dictionary<string, object?> DemoInputs() => new()
    {
        ["tenure_months"] = 3.0,
        ["monthly_charges"] = 95.5,
        ["total_charges"] = 286.5,
        ["support_calls"] = 4.0,
        ["age"] = 33.0,
        ["data_usage_gb"] = 12.5,
        ["contract"] = "month-to-month",
        ["payment_method"] = "electronic-check",
        ["paperless_billing"] = true,
        ["has_partner"] = false,
        ["feedback"] = "too expensive",
    };

    /// <summary>The middle value (the upper one of an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>Consecutive pairs of a run's history events and the time between them.</summary>
    public static IEnumerable<(HistoryEvent From, HistoryEvent To, double Milliseconds)> Gaps(IReadOnlyList<HistoryEvent> events) =>
        events.Skip(1).Select((e, i) => (events[i], e, (e.EventTime.ToDateTime() - events[i].EventTime.ToDateTime()).TotalMilliseconds));
}
