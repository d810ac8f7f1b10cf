using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Model;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Workflows;

/// <summary>
/// Hosts with the embedded Temporal server on an ephemeral port and in-memory histories, short retry intervals,
/// and a small demo model; helpers to poll the REST API with deadlines instead of sleeping.
/// </summary>
internal static class WorkflowTestKit
{
    public const string DemoModel = "demo-churn";

    // Case-sensitive, unlike the web defaults: the API answers in camelCase, and every read here checks that.
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNameCaseInsensitive = false };

    public static Dictionary<string, string?> Settings(params (string Key, string? Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Temporal:Embedded:Port"] = "0",
            ["Temporal:Embedded:StoragePath"] = ":memory:",
            ["Model:Bootstrap:Rows"] = "600",
            ["Workflows:Retry:InitialIntervalSeconds"] = "0.05",
            ["Workflows:Retry:MaximumIntervalSeconds"] = "0.2",
            ["Workflows:SyncTimeoutSeconds"] = "30",
            ["Event:Webhooks:Dispatcher:Enabled"] = "true",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Formanova.Host.Api.RequestLogMiddleware"] = "Warning",
            ["Logging:LogLevel:Temporalio"] = "Error",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    public static FormanovaFactory Factory(FaultyModelModule? faults = null, params (string Key, string? Value)[] extra) =>
        new(Settings(extra), faults is null ? null : services => services.Decorate<IModelModule>((inner, _) => faults.Wrap(inner)));

    /// <summary>A client once the demo model is active (it is trained in the background at start-up).</summary>
    public static async Task<HttpClient> ClientAsync(FormanovaFactory factory)
    {
        var client = factory.CreateClient();
        await UntilAsync(async () =>
        {
            var response = await client.GetAsync($"/api/v1/models/{DemoModel}");
            return response.IsSuccessStatusCode
                && (await response.Content.ReadFromJsonAsync<JsonObject>(Json))?["activeVersion"] is not null;
        }, TimeSpan.FromSeconds(90), "the demo model to be active");
        return client;
    }

    public static Dictionary<string, object?> ValidInput() => new()
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
        ["feedback"] = "  too   expensive ",
    };

    public static object Body(
        Dictionary<string, object?>? inputs = null,
        object? parameters = null,
        bool startPaused = false,
        string? version = null) =>
        new { model = DemoModel, inputs = inputs ?? ValidInput(), version, startPaused, @params = parameters };

    public static async Task<JsonObject> ReadAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonObject>(Json))!;

    /// <summary>Polls GET <paramref name="path"/> until <paramref name="done"/> holds; returns the last body.</summary>
    public static async Task<JsonObject> PollAsync(
        HttpClient client,
        string path,
        Func<JsonObject, bool> done,
        TimeSpan? timeout = null,
        string? what = null)
    {
        JsonObject? last = null;
        await UntilAsync(async () =>
        {
            var response = await client.GetAsync(path);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }

            last = await ReadAsync(response);
            return done(last);
        }, timeout ?? TimeSpan.FromSeconds(60), what ?? path);
        return last!;
    }

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds} s waiting for {what}.");
            }

            await Task.Delay(50);
        }
    }

    public static string Status(JsonObject job) => (string)job["status"]!;
}

/// <summary>
/// Application database, model files and Temporal histories in one temporary directory, so that a host can be
/// disposed mid-run (a crash, as far as the workflows can tell) and a new host started on the same state.
/// </summary>
internal sealed class PersistedState : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("formanova-crash-").FullName;
    private readonly (string Key, string? Value)[] _extra;

    public PersistedState(params (string Key, string? Value)[] extra) => _extra = extra;

    /// <summary>A host on this state; every host started from it sees the same database and histories.</summary>
    public FormanovaFactory Start(FaultyModelModule faults) => new(
        WorkflowTestKit.Settings([
            ("Database:SqlitePath", Path.Combine(_directory, "formanova.db")),
            ("Model:Directory", Path.Combine(_directory, "models")),
            ("Temporal:Embedded:StoragePath", Path.Combine(_directory, "temporal.db")),
            .. _extra
        ]),
        services => services.Decorate<IModelModule>((inner, _) => faults.Wrap(inner)));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
