using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Formanova.Modules.Shared.Errors;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Host.Telemetry;

[Category("Integration")]
public sealed class StructuredLogTests
{
    private const string ServiceSecret = "external-service-secret-that-must-not-leak";

    [Test]
    public async Task Logs_DuringAnActivity_AreJsonLinesCarryingTraceWorkflowAndActivityButNoSecret()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var service = builder.Build();
        service.MapPost("/enrich", () => Results.Json(new { riskBand = "low" }));
        await service.StartAsync();
        var faults = new FaultyModelModule
        {
            Before = (op, _, count, _) => op == "predict" && count == 1
                ? throw new ModuleException(ErrorKind.Unavailable, "engine pool exhausted")
                : Task.CompletedTask,
        };
        var logs = new JsonLogCapture();
        using var factory = new FormanovaFactory(
            Settings(
                ("Logging:LogLevel:Formanova", "Debug"),
                ("Logging:LogLevel:System.Net.Http.HttpClient", "Information"),
                ("Workflows:ExternalService:Url", $"{service.Urls.First()}/enrich"),
                ("Workflows:ExternalService:AuthValue", ServiceSecret)),
            services =>
            {
                services.Decorate<Formanova.Modules.Model.IModelModule>((inner, _) => faults.Wrap(inner));
                logs.AddTo(services);
            });
        var client = await ClientAsync(factory);

        var response = await client.PostAsJsonAsync(
            "/api/v1/predictions",
            new { model = DemoModel, inputs = ValidInput(), callExternal = true });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var jobId = (string)(await ReadAsync(response))["jobId"]!;
        var lines = logs.Lines.Select(line => JsonDocument.Parse(line).RootElement).ToList();
        var failed = lines.Single(l => l.GetProperty("Category").GetString() == "Formanova.Host.Telemetry.TemporalWorkerInterceptor"
            && l.GetProperty("LogLevel").GetString() == "Warning" && Scope(l, "ActivityType") == "run_model_inference");
        var outgoing = lines.Where(l => l.GetProperty("Category").GetString()!.StartsWith(
            "System.Net.Http.HttpClient.formanova-external",
            StringComparison.Ordinal)).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(Scope(failed, "WorkflowId"), Is.EqualTo(jobId));
            Assert.That(Scope(failed, "WorkflowType"), Is.EqualTo("ProcessingWorkflow"));
            Assert.That(Scope(failed, "Attempt"), Is.EqualTo("1"));
            Assert.That(Scope(failed, "TraceId"), Has.Length.EqualTo(32), "ActivityTrackingOptions put the trace id in a scope");
            Assert.That(Scope(failed, "SpanId"), Has.Length.EqualTo(16));
            Assert.That(failed.GetProperty("State").GetProperty("ErrorType").GetString(), Is.EqualTo("UnavailableError"));
            Assert.That(failed.GetProperty("State").GetProperty("Error").GetString(), Is.EqualTo("engine pool exhausted"));
            // Lines the activity did not write itself (HttpClient's) carry the same fields.
            Assert.That(outgoing, Is.Not.Empty);
            Assert.That(outgoing.Select(l => Scope(l, "ActivityType")).Distinct(), Is.EqualTo(new[] { "call_external_service" }));
            Assert.That(outgoing.Select(l => Scope(l, "WorkflowId")).Distinct(), Is.EqualTo(new[] { jobId }));
            Assert.That(logs.Lines, Has.None.Contain(ServiceSecret), "the auth header value is never logged");
        });
    }

    [Test]
    public async Task Logs_WhenATrainingRunFails_HaveOneErrorLineWithTheCauseTheStepAndTheTraceOfTheRequest()
    {
        var logs = new JsonLogCapture();
        using var factory = new FormanovaFactory(DefaultLevels(("Model:Bootstrap:Enabled", "false")), logs.AddTo);
        var client = factory.CreateClient();
        var dataset = await WorkflowDatasets.PenguinsAsync(factory.Services);

        // Two species are left, so the request passes the label check; species names are no binary labels, which only
        // the train_model activity finds (Formanova.Tests/Workflows/TrainingRunFailureTests).
        var response = await client.PostAsJsonAsync("/api/v1/training-runs", new
        {
            model = "penguins-log",
            version = "1.0.0",
            task = "binaryClassification",
            datasetId = dataset,
            transforms = new[] { new { op = "filter", expression = "species != \"Gentoo\"" } },
        });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var location = response.Headers.Location!.ToString();
        var runId = location.Split('/')[^1];
        var run = await PollAsync(client, location, r => Status(r) is "completed" or "failed", TimeSpan.FromSeconds(120));
        Assert.That(Status(run), Is.EqualTo("failed"), run.ToJsonString());
        // The run stores its result before it closes; the line is written as it closes.
        await UntilAsync(() => Task.FromResult(Parsed(logs).Any(IsError)), TimeSpan.FromSeconds(30), "the failed run's error line");

        var lines = Parsed(logs);
        var request = lines.Single(l => Category(l) == "Formanova.Host.Api.RequestLogMiddleware"
            && l.GetProperty("State").GetProperty("Route").GetString() == "/api/v1/training-runs/");
        var error = lines.Single(IsError).GetProperty("State");
        var ofTheRun = lines.Where(l => l.ToString().Contains(runId, StringComparison.Ordinal)).ToList();
        var stored = (await ReadAsync(await client.GetAsync($"/api/v1/jobs/{runId}")))["errors"]!.AsArray().Single()!;
        Assert.Multiple(() =>
        {
            Assert.That(error.GetProperty("WorkflowId").GetString(), Is.EqualTo(runId));
            Assert.That(error.GetProperty("Step").GetString(), Is.EqualTo("train_model"));
            // The cause as the run stores it (GET /api/v1/jobs/{id}).
            Assert.That(error.GetProperty("Stage").GetString(), Is.EqualTo("training").And.EqualTo((string?)stored["stage"]));
            Assert.That(error.GetProperty("ErrorType").GetString(), Is.EqualTo((string?)stored["type"]).And.EndsWith("Error"));
            Assert.That(error.GetProperty("Error").GetString(), Is.EqualTo((string?)stored["message"]).And.Contain("do not match"));
            Assert.That(
                error.GetProperty("TraceId").GetString(),
                Is.EqualTo(request.GetProperty("State").GetProperty("TraceId").GetString()),
                "the trace of the request that started the run");
            Assert.That(error.GetProperty("SpanId").GetString(), Has.Length.EqualTo(16).And.Not.EqualTo("0000000000000000"));
            // The failed attempt is one warning, and no line of the run repeats a stack trace.
            Assert.That(ofTheRun.Count(l => l.GetProperty("LogLevel").GetString() == "Warning"), Is.EqualTo(1));
            Assert.That(ofTheRun.Where(l => l.TryGetProperty("Exception", out _)), Is.Empty);
        });

        static bool IsError(JsonElement line) =>
            Category(line) == "Temporalio.Workflow:ModelTrainingWorkflow" && line.GetProperty("LogLevel").GetString() == "Error";
    }

    [Test]
    public async Task Logs_ForAPredictionWithTwoRetriedAttempts_AreItsRequestLineAndOneWarningPerAttemptAtTheDefaultLevels()
    {
        var calls = 0;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var service = builder.Build();
        service.MapPost("/enrich", () => Interlocked.Increment(ref calls) > 2
            ? Results.Json(new { riskBand = "low" })
            : Results.StatusCode(StatusCodes.Status503ServiceUnavailable));
        await service.StartAsync();
        var logs = new JsonLogCapture();
        using var factory = new FormanovaFactory(
            DefaultLevels(("Workflows:ExternalService:Url", $"{service.Urls.First()}/enrich")),
            logs.AddTo);
        var client = await ClientAsync(factory);
        // The first prediction loads the model, which is logged once; this is not the one measured.
        Assert.That((await client.PostAsJsonAsync("/api/v1/predictions", Body())).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var before = logs.Lines.Count();

        var response = await client.PostAsJsonAsync(
            "/api/v1/predictions",
            new { model = DemoModel, inputs = ValidInput(), callExternal = true });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        await UntilAsync(
            () => Task.FromResult(Parsed(logs).Skip(before).Any(l => Category(l) == "Formanova.Host.Api.RequestLogMiddleware")),
            TimeSpan.FromSeconds(10),
            "the request line");
        var lines = Parsed(logs).Skip(before).ToList();
        var warnings = lines.Where(l => l.GetProperty("LogLevel").GetString() == "Warning").Select(l => l.GetProperty("State")).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(
                lines.Select(l => $"{l.GetProperty("LogLevel").GetString()} {Category(l)}"),
                Is.EqualTo(new[]
                {
                    "Warning Formanova.Host.Telemetry.TemporalWorkerInterceptor",
                    "Warning Formanova.Host.Telemetry.TemporalWorkerInterceptor",
                    "Information Formanova.Host.Api.RequestLogMiddleware",
                }),
                "no HttpClient lines, no SDK line with a stack trace");
            Assert.That(warnings.Select(w => w.GetProperty("Attempt").GetInt32()), Is.EqualTo(new[] { 1, 2 }));
            Assert.That(
                warnings.Select(w => $"{w.GetProperty("ActivityType")} {w.GetProperty("ErrorType")}: {w.GetProperty("Error")}").Distinct(),
                Is.EqualTo(new[] { "call_external_service UnavailableError: The external service answered 503." }));
            Assert.That(lines.Where(l => l.TryGetProperty("Exception", out _)), Is.Empty);
        });
    }

    /// <summary>The workflow kit's settings at appsettings.json's log levels (it quiets them for the other tests).</summary>
    private static Dictionary<string, string?> DefaultLevels(params (string Key, string? Value)[] extra) => Settings(
    [
        ("Logging:LogLevel:Default", "Information"),
        ("Logging:LogLevel:Temporalio", "Information"),
        ("Logging:LogLevel:Formanova.Host.Api.RequestLogMiddleware", "Information"),
        .. extra
    ]);

    private static List<JsonElement> Parsed(JsonLogCapture logs) => [.. logs.Lines.Select(l => JsonDocument.Parse(l).RootElement)];

    private static string? Category(JsonElement line) => line.GetProperty("Category").GetString();

    /// <summary>The value of <paramref name="name"/> in any scope of the JSON line.</summary>
    private static string? Scope(JsonElement line, string name) =>
        line.TryGetProperty("Scopes", out var scopes)
            ? scopes.EnumerateArray().Where(s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty(name, out _))
                .Select(s => s.GetProperty(name).ToString()).FirstOrDefault()
            : null;
}
