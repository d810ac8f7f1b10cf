using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Formanova.Tests.Support;
using static Formanova.Tests.Event.EventTestSupport;
using static Formanova.Tests.Support.ExportedSpans;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Host.Telemetry;

/// <summary>
/// The sampler is parent-based over a ratio: a trace is kept or dropped whole, the workflow's activities included
/// (they continue the request's trace through the Temporal headers, and follow its decision).
/// </summary>
[Category("Integration")]
public sealed class TraceSamplingTests
{
    private static readonly string[] ProcessingSteps =
        ["validate_input", "prepare_data", "run_model_inference", "aggregate_results", "post_process", "persist_and_emit", "emit_event"];

    [TestCase("Telemetry:Traces:SampleRatio=0")]
    [TestCase("OTEL_TRACES_SAMPLER=parentbased_traceidratio;OTEL_TRACES_SAMPLER_ARG=0")]
    [TestCase("Telemetry:Traces:Record=false")]
    public async Task Prediction_WhenTheRatioIsZero_ExportsNothingUnlessTheCallerSampledTheTrace(string sampling)
    {
        var spans = new ExportedSpans();
        var settings = sampling.Split(';').Select(s => s.Split('=')).Select(p => (p[0], (string?)p[1])).ToArray();
        using var factory = new FormanovaFactory(Settings(settings), spans.Install);
        var client = await ClientAsync(factory);

        await PredictAsync(client, traceparent: null);
        var sampled = ActivityTraceId.CreateRandom();
        await PredictAsync(client, $"00-{sampled}-{ActivitySpanId.CreateRandom()}-01");
        await UntilWholeTraceAsync(spans, sampled);

        Assert.That(
            spans.Snapshot().Where(s => s.TraceId != sampled).Select(Describe),
            Is.Empty,
            "nothing but the trace its caller sampled: no request, workflow start or activity of the other prediction");
    }

    [Test]
    public async Task Prediction_WhenTheRatioIsOne_ExportsTheWholeTraceUnlessTheCallerDroppedIt()
    {
        var spans = new ExportedSpans();
        using var factory = new FormanovaFactory(Settings(("Telemetry:Traces:SampleRatio", "1")), spans.Install);
        var client = await ClientAsync(factory);

        var dropped = ActivityTraceId.CreateRandom();
        await PredictAsync(client, $"00-{dropped}-{ActivitySpanId.CreateRandom()}-00");
        await PredictAsync(client, traceparent: null);
        // The dropped request exported nothing, so the one prediction request exported is the kept one's.
        var keptTrace = await UntilWholeTraceAsync(spans, traceId: null);
        var kept = keptTrace[0].TraceId;

        var exported = spans.Snapshot();
        Assert.Multiple(() =>
        {
            Assert.That(
                exported.Where(s => s.TraceId == dropped).Select(Describe),
                Is.Empty,
                "the caller's unsampled trace stays unsampled");
            Assert.That(
                exported.Where(s => s.DisplayName.StartsWith("RunActivity:", StringComparison.Ordinal)).Select(s => s.TraceId).Distinct(),
                Is.EqualTo(new[] { kept }),
                "no activity of the dropped trace was exported, as a root or otherwise");
            Assert.That(keptTrace.Count(IsRoot), Is.EqualTo(1), "the kept trace has one root, the request");
        });
    }

    [Test]
    public async Task Request_WhenNoExporterIsConfigured_IsNotRecordedButKeepsItsTraceId()
    {
        var stopped = new ConcurrentDictionary<string, Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = (ref _) => ActivitySamplingResult.None,
            ActivityStopped = activity => stopped[activity.TraceId.ToHexString()] = activity,
        };
        ActivitySource.AddActivityListener(listener);
        using var factory = new FormanovaFactory();
        using var client = factory.CreateClient();

        using var response = await client.GetAsync("/api/v1/models/no-such-model");
        var traceId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("traceId").GetString()!;
        var request = await EventuallyAsync(
            () => Task.FromResult(stopped.GetValueOrDefault(traceId)), a => a is not null, what: $"the request span of trace {traceId}");

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(request!.Recorded, Is.False, "no exporter: nothing would read the span");
            Assert.That(request.TagObjects, Is.Empty, "an unrecorded span is not tagged");
        });
    }

    [TestCase("Telemetry:Traces:SampleRatio", "1.5", "SampleRatio")]
    [TestCase("OTEL_TRACES_SAMPLER", "sometimes", "OTEL_TRACES_SAMPLER")]
    [TestCase("OTEL_TRACES_SAMPLER_ARG", "2", "OTEL_TRACES_SAMPLER_ARG")]
    public void Start_WhenASamplerSettingIsInvalid_FailsNamingIt(string key, string value, string named)
    {
        using var factory = new FormanovaFactory([new("OTEL_TRACES_SAMPLER", "traceidratio"), new(key, value)]);

        var error = Assert.Catch(() => _ = factory.Services);

        Assert.That(error!.ToString(), Does.Contain(named));
    }

    /// <summary>A synchronous prediction, continuing the caller's trace when <paramref name="traceparent"/> is given.</summary>
    private static async Task PredictAsync(HttpClient client, string? traceparent)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/predictions") { Content = JsonContent.Create(Body()) };
        if (traceparent is not null)
        {
            request.Headers.Add("traceparent", traceparent);
        }

        using var response = await client.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// Waits for the request span and every step's activity span of <paramref name="traceId"/> (null: of the one exported
    /// prediction request); returns the trace.
    /// </summary>
    private static async Task<List<Activity>> UntilWholeTraceAsync(ExportedSpans spans, ActivityTraceId? traceId)
    {
        List<Activity> trace = [];
        await UntilAsync(
            () =>
            {
                var exported = spans.Snapshot();
                var id = traceId ?? exported.FirstOrDefault(s => IsRequest(s, "POST", "/api/v1/predictions"))?.TraceId;
                trace = exported.Where(s => s.TraceId == id).OrderBy(s => s.StartTimeUtc).ToList();
                var steps = trace.Select(s => s.DisplayName)
                    .Where(n => n.StartsWith("RunActivity:", StringComparison.Ordinal))
                    .Select(n => n["RunActivity:".Length..]);
                return Task.FromResult(trace.Any(s => IsRequest(s, "POST", "/api/v1/predictions"))
                    && trace.Any(s => s.DisplayName == "StartWorkflow:ProcessingWorkflow")
                    && !ProcessingSteps.Except(steps).Any());
            },
            TimeSpan.FromSeconds(10),
            $"the whole trace {traceId?.ToString() ?? "of the prediction"}");
        return trace;
    }
}
