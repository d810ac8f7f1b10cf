using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Formanova.DevServer;
using Formanova.Tests.Support;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Host.Temporal;

/// <summary>
/// The embedded Temporal server shares the host's process, and so its meters, activity sources and stdout by name:
/// its gRPC calls must not count as API requests, export as spans or write anything but the host's JSON lines.
/// </summary>
[Category("Integration")]
public sealed partial class EmbeddedTemporalServerTests
{
    [Test]
    public async Task Metrics_WhileWorkflowsRunOnTheEmbeddedServer_CountOnlyTheApiRequests()
    {
        using var factory = new FormanovaFactory(Settings());
        var client = await ClientAsync(factory);
        var response = await client.PostAsJsonAsync("/api/v1/predictions", Body());
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());

        var text = await client.GetStringAsync("/metrics");

        var durations = text.Split('\n').Where(l => l.StartsWith("http_server_request_duration_seconds_count{", StringComparison.Ordinal))
            .ToList();
        Assert.Multiple(() =>
        {
            Assert.That(durations.Select(l => RouteLabel().Match(l).Groups[1].Value), Does.Contain("/api/v1/predictions"));
            Assert.That(durations, Has.None.Contain("temporal.api"), "no RPC of the embedded server counts as a request");
            Assert.That(text, Does.Not.Contain("temporal.api"), "nor as a routing match or anything else");
            // The in-memory test host serves without Kestrel: a Kestrel series could only be the embedded server's.
            Assert.That(text, Does.Not.Contain("kestrel"), "the server's connections are not the host's");
            Assert.That(
                text,
                Does.Match("http_server_active_requests\\{[^}]*http_request_method=\"POST\"[^}]*\\} 0\n"),
                "the worker's long polls are not requests in flight");
        });
    }

    [Test]
    public async Task Traces_ByDefault_HoldTheRequestAndWorkflowSpansButNoneOfTheEmbeddedServersRpcs()
    {
        var spans = await ExportedSpans.OfPredictionAsync(Settings());

        var request = spans.Single(ExportedSpans.IsPredictionRequest);
        Assert.Multiple(() =>
        {
            Assert.That(spans.Where(IsEmbeddedServerSpan).Select(s => s.DisplayName), Is.Empty);
            Assert.That(spans.Single(s => s.DisplayName == "StartWorkflow:ProcessingWorkflow").ParentSpanId, Is.EqualTo(request.SpanId));
            Assert.That(spans.Where(s => s.DisplayName == "RunActivity:run_model_inference"), Is.Not.Empty);
        });
    }

    [Test]
    public async Task Traces_WithTraceRpcs_HoldTheEmbeddedServersRpcsAsWell()
    {
        var spans = await ExportedSpans.OfPredictionAsync(
            Settings(("Temporal:Embedded:TraceRpcs", "true")),
            until: spans => spans.Any(IsEmbeddedServerSpan));

        Assert.Multiple(() =>
        {
            Assert.That(
                spans.Where(IsEmbeddedServerSpan).Select(s => s.GetTagItem("url.path")),
                Does.Contain("/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution"));
            Assert.That(spans.Where(s => s.DisplayName == "StartWorkflow:ProcessingWorkflow"), Is.Not.Empty);
        });
    }

    [Test]
    public async Task Stdout_OverStartAWorkflowAndStop_IsOneJsonObjectPerLineWithTheEmbeddedServersLinesNamedAsSuch()
    {
        var directory = Directory.CreateTempSubdirectory("formanova-embedded-").FullName;
        try
        {
            // Debug, so the server writes in every phase: start-up, each RPC, the shutdown of its connections.
            var host = await HostProcess.StartAsync(directory, [new("Logging:LogLevel:Formanova.DevServer", "Debug")]);
            int started, ran;
            await using (host)
            {
                started = host.Output.Count;
                await UntilAsync(
                    async () =>
                    {
                        using var model = await host.Client.GetAsync($"/api/v1/models/{DemoModel}");
                        return model.IsSuccessStatusCode
                            && (await model.Content.ReadAsStringAsync()).Contains("\"activeVersion\":\"", StringComparison.Ordinal);
                    },
                    TimeSpan.FromSeconds(90),
                    "the demo model to be active");
                var response = await host.Client.PostAsJsonAsync("/api/v1/predictions", Body());
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
                ran = host.Output.Count;
                await host.TerminateAsync();
                await host.ExitAsync(TimeSpan.FromSeconds(60));
            }

            var lines = host.Output.ToList();
            var notJson = lines.Where(line => !IsJsonObject(line)).ToList();
            var server = lines.Select((line, index) => (line, index)).Where(l => IsJsonObject(l.line) && IsEmbeddedServerLine(l.line))
                .Select(l => l.index).ToList();
            Assert.Multiple(() =>
            {
                Assert.That(notJson, Is.Empty, "every stdout line is one JSON object");
                Assert.That(server.Where(i => i < started), Is.Not.Empty, "the server logged while starting");
                Assert.That(server.Where(i => i >= started && i < ran), Is.Not.Empty, "the server logged the workflow's RPCs");
                Assert.That(server.Where(i => i >= ran), Is.Not.Empty, "the server logged while stopping");
            });
        }
        finally
        {
            LocalProcesses.DeleteDirectory(directory);
        }
    }

    /// <summary>A server span of an RPC (a Temporal API path), or any span from the server's own activity source.</summary>
    private static bool IsEmbeddedServerSpan(Activity span) =>
        span.Source.Name.StartsWith(DevServerDiagnostics.Prefix, StringComparison.Ordinal)
            || (span.GetTagItem("url.path") as string)?.StartsWith("/temporal.api.", StringComparison.Ordinal) == true;

    private static bool IsJsonObject(string line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool IsEmbeddedServerLine(string line)
    {
        using var document = JsonDocument.Parse(line);
        return document.RootElement.TryGetProperty("Category", out var category)
            && category.GetString()!.StartsWith(DevServerDiagnostics.Prefix, StringComparison.Ordinal);
    }

    [GeneratedRegex("http_route=\"([^\"]*)\"")]
    private static partial Regex RouteLabel();
}
