using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Preloading;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;
using Microsoft.Extensions.DependencyInjection;
using static Formanova.Tests.Event.EventTestSupport;
using static Formanova.Tests.Support.ExportedSpans;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Host.Telemetry;

/// <summary>
/// The whole span tree of a synchronous prediction and of a training run, on PostgreSQL (whose SQL spans are the ones
/// that went astray): each request is one trace, the host exports no other root meanwhile, and every event-log insert
/// sits under the publish that caused it.
/// </summary>
[Category("Integration")]
public sealed class TraceTreeTests
{
    private static readonly string[] ProcessingSteps =
        ["validate_input", "prepare_data", "run_model_inference", "aggregate_results", "post_process", "persist_and_emit", "emit_event"];

    private static readonly string[] TrainingSteps =
        ["emit_event", "prepare_training_data", "train_model", "validate_model", "register_model", "persist_result"];

    [Test]
    public async Task PredictionAndTrainingRun_OnPostgres_AreOneTraceEachWithEveryEventInsertUnderItsOwnEmit()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Postgres);
        var spans = new ExportedSpans();
        using var factory = new FormanovaFactory(Settings().Concat(database.Settings), spans.Install);
        var client = await ClientAsync(factory);
        var dataset = await WorkflowDatasets.ChurnAsync(factory.Services, 300);
        await factory.Services.GetRequiredService<ModelBootstrapper>().Completed;
        // Start-up work (PreloadModels) is a root of its own: it must end before the window that allows only requests.
        await factory.Services.GetRequiredService<ModelPreloader>().Completed;
        spans.Clear();

        var prediction = await client.PostAsJsonAsync("/api/v1/predictions", Body());
        Assert.That(prediction.StatusCode, Is.EqualTo(HttpStatusCode.OK), await prediction.Content.ReadAsStringAsync());
        var training = await client.PostAsJsonAsync(
            "/api/v1/training-runs",
            new { model = "churn-traced", version = "1.0.0", task = "binaryClassification", datasetId = dataset });
        Assert.That(training.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await training.Content.ReadAsStringAsync());
        var run = await PollAsync(
            client,
            training.Headers.Location!.ToString(),
            r => Status(r) is "completed" or "failed",
            TimeSpan.FromSeconds(120));
        Assert.That(Status(run), Is.EqualTo("completed"), run.ToJsonString());
        // A server span ends once its response is written, a moment after the client has it.
        await UntilAsync(
            () => Task.FromResult(spans.Snapshot().Count(s => IsPrediction(s) || IsTrainingRun(s)) == 2),
            TimeSpan.FromSeconds(10),
            "both request spans");

        var exported = spans.Snapshot();
        var byId = exported.ToDictionary(s => s.SpanId);
        var emits = exported.Where(s => s.DisplayName == "RunActivity:emit_event").ToList();
        Assert.That(
            emits.Select(emit => exported.Count(s => IsEventInsert(s) && HasAncestor(s, emit, byId))),
            Has.All.EqualTo(1),
            "each emit_event has exactly its own event insert below it, of both runs");
        AssertWorkflowTrace(exported, exported.Single(IsPrediction), "ProcessingWorkflow", ProcessingSteps);
        AssertWorkflowTrace(exported, exported.Single(IsTrainingRun), "ModelTrainingWorkflow", TrainingSteps);
        Assert.That(
            exported.Where(s => IsRoot(s) && !(s.Kind == ActivityKind.Server && s.Source.Name == "Microsoft.AspNetCore")).Select(Describe),
            Is.Empty,
            "every root is an API request: no background poll, no orphaned SQL");
    }

    [Test]
    public async Task Publish_OnPostgres_WhenAnEarlierCallerStartedTheEventWriters_PutsEachInsertUnderItsOwnCaller()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Postgres);
        var spans = new ExportedSpans();
        using var factory = new FormanovaFactory(
            Settings(("Model:Bootstrap:Enabled", "false")).Concat(database.Settings),
            spans.Install);
        var events = factory.Services.GetRequiredService<IEventModule>();

        var first = await PublishUnderAsync(events, "first-caller");
        var second = await PublishUnderAsync(events, "second-caller");

        // The writer ends its AppendEvents span after it has released the publishers: wait for the spans themselves.
        var exported = await EventuallyAsync(
            () => Task.FromResult(spans.Snapshot()),
            s => new[] { first, second }.All(c =>
                s.Where(IsEventInsert).Any(i => i.TraceId == c.TraceId && s.Any(p => p.SpanId == i.ParentSpanId))),
            what: "each caller's event insert and the span it sits under");
        Assert.Multiple(() =>
        {
            foreach (var caller in new[] { first, second })
            {
                var inserts = exported.Where(IsEventInsert).Where(s => s.TraceId == caller.TraceId).ToList();
                Assert.That(inserts, Has.Count.EqualTo(1), $"{caller.DisplayName}'s trace has its insert");
                var append = exported.SingleOrDefault(s => s.SpanId == inserts.FirstOrDefault()?.ParentSpanId);
                Assert.That(append?.DisplayName, Is.EqualTo("AppendEvents"));
                Assert.That(
                    append?.ParentSpanId,
                    Is.EqualTo(caller.SpanId),
                    $"the insert's AppendEvents is a child of {caller.DisplayName}");
            }
        });
    }

    private static bool HasAncestor(Activity span, Activity ancestor, Dictionary<ActivitySpanId, Activity> byId)
    {
        for (var current = span; byId.TryGetValue(current.ParentSpanId, out var parent); current = parent)
        {
            if (parent.SpanId == ancestor.SpanId)
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsPrediction(Activity span) => IsRequest(span, "POST", "/api/v1/predictions");

    private static bool IsTrainingRun(Activity span) => IsRequest(span, "POST", "/api/v1/training-runs");

    private static async Task<Activity> PublishUnderAsync(IEventModule events, string name)
    {
        using var caller = TestSource.StartActivity(name)!;
        await events.PublishAsync(new PublishEventRequest(IEventModule.WorkflowCompleted, $"/tests/{name}"));
        return caller;
    }

    /// <summary>
    /// request → StartWorkflow:type → every step's RunActivity, all in the request's trace; each emit_event's publish is
    /// its own AppendEvents child, and every event insert of the trace sits under an AppendEvents whose parent is one
    /// of the trace's activities.
    /// </summary>
    private static void AssertWorkflowTrace(List<Activity> exported, Activity request, string workflowType, string[] steps)
    {
        var trace = exported.Where(s => s.TraceId == request.TraceId).ToList();
        var byId = trace.ToDictionary(s => s.SpanId);
        var start = trace.Single(s => s.DisplayName == $"StartWorkflow:{workflowType}");
        var activities = trace.Where(s => s.DisplayName.StartsWith("RunActivity:", StringComparison.Ordinal)).ToList();
        var emits = activities.Where(s => s.DisplayName == "RunActivity:emit_event").ToList();
        var inserts = trace.Where(IsEventInsert).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(start.ParentSpanId, Is.EqualTo(request.SpanId), $"{workflowType}: the start is a child of the request");
            Assert.That(activities.Select(s => s.DisplayName["RunActivity:".Length..]), Is.SupersetOf(steps), workflowType);
            Assert.That(
                activities.Select(s => s.ParentSpanId).Distinct(),
                Is.EqualTo(new[] { start.SpanId }),
                $"{workflowType}: activities under the start");
            foreach (var emit in emits)
            {
                Assert.That(
                    trace.Count(s => s.DisplayName == "AppendEvents" && s.ParentSpanId == emit.SpanId),
                    Is.EqualTo(1),
                    $"{workflowType}: an emit_event has its own AppendEvents");
            }

            Assert.That(inserts, Has.Count.GreaterThanOrEqualTo(emits.Count), $"{workflowType}: the event inserts are in the trace");
            foreach (var insert in inserts)
            {
                var append = byId.GetValueOrDefault(insert.ParentSpanId);
                Assert.That(append?.DisplayName, Is.EqualTo("AppendEvents"), $"{workflowType}: an event insert is under AppendEvents");
                Assert.That(
                    append is not null && activities.Any(a => a.SpanId == append.ParentSpanId),
                    Is.True,
                    $"{workflowType}: AppendEvents is under one of the run's activities");
            }
        });
    }
}
