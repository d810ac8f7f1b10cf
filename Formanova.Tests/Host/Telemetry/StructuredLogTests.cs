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
            Assert.That(failed.GetProperty("State").GetProperty("ErrorType").GetString(), Is.EqualTo("ApplicationFailureException"));
            // Lines the activity did not write itself (HttpClient's) carry the same fields.
            Assert.That(outgoing, Is.Not.Empty);
            Assert.That(outgoing.Select(l => Scope(l, "ActivityType")).Distinct(), Is.EqualTo(new[] { "call_external_service" }));
            Assert.That(outgoing.Select(l => Scope(l, "WorkflowId")).Distinct(), Is.EqualTo(new[] { jobId }));
            Assert.That(logs.Lines, Has.None.Contain(ServiceSecret), "the auth header value is never logged");
        });
    }

    /// <summary>The value of <paramref name="name"/> in any scope of the JSON line.</summary>
    private static string? Scope(JsonElement line, string name) =>
        line.TryGetProperty("Scopes", out var scopes)
            ? scopes.EnumerateArray().Where(s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty(name, out _))
                .Select(s => s.GetProperty(name).ToString()).FirstOrDefault()
            : null;
}
