using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Host.Telemetry;

/// <summary>
/// One trace from the HTTP request through the workflow start to every activity and the SQL each ran. PostgreSQL,
/// because SQLite has no tracing instrumentation: the SQL spans are Npgsql's.
/// </summary>
[Category("Integration")]
public sealed class TraceChainTests
{
    private static readonly string[] ProcessingSteps =
        ["validate_input", "prepare_data", "run_model_inference", "aggregate_results", "post_process", "persist_and_emit", "emit_event"];

    [Test]
    public async Task Prediction_OnPostgres_IsOneTraceFromRequestThroughWorkflowStartToEveryActivityAndItsSql()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Postgres);

        var spans = await ExportedSpans.OfPredictionAsync(Settings().Concat(database.Settings));

        var request = spans.Single(ExportedSpans.IsPredictionRequest);
        var trace = spans.Where(s => s.TraceId == request.TraceId).ToList();
        var start = trace.Single(s => s.DisplayName == "StartWorkflow:ProcessingWorkflow");
        var activities = trace.Where(s => s.DisplayName.StartsWith("RunActivity:", StringComparison.Ordinal)).ToList();
        var activityIds = activities.Select(s => s.SpanId).ToHashSet();
        var sql = trace.Where(s => s.Source.Name == "Npgsql" && activityIds.Contains(s.ParentSpanId)).ToList();
        var persist = activities.Single(s => s.DisplayName == "RunActivity:persist_and_emit");

        Assert.Multiple(() =>
        {
            Assert.That(start.ParentSpanId, Is.EqualTo(request.SpanId), "the workflow start is a child of the request");
            Assert.That(activities.Select(s => s.DisplayName["RunActivity:".Length..]), Is.SupersetOf(ProcessingSteps));
            Assert.That(
                activities.Select(s => s.ParentSpanId).Distinct(),
                Is.EqualTo(new[] { start.SpanId }),
                "every activity is a child of the start");
            Assert.That(
                activities.Select(s => s.GetTagItem("temporal.workflow.type")).Distinct(),
                Is.EqualTo(new[] { "ProcessingWorkflow" }));
            Assert.That(persist.GetTagItem("temporal.workflow.id"), Is.EqualTo(start.GetTagItem("temporal.workflow.id")));
            Assert.That(persist.GetTagItem("temporal.activity.attempt"), Is.EqualTo(1));
            Assert.That(sql.Where(s => s.ParentSpanId == persist.SpanId), Is.Not.Empty, "persist_and_emit's INSERT is in the trace");
        });
    }
}
