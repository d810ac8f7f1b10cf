using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Formanova.Host.Telemetry;
using Formanova.Modules.Shared.Errors;
using Formanova.Tests.Workflows;
using Temporalio.Exceptions;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Host.Telemetry;

[Category("Integration")]
public sealed class WorkflowMetricsTests
{
    [Test]
    public async Task Metrics_AfterPredictionWorkflows_ExposeEveryWorkflowAndActivityContractMetricWithValues()
    {
        // The first inference attempt fails, so the run has a retry and a failed activity attempt to show.
        var faults = new FaultyModelModule
        {
            Before = (op, _, count, _) => op == "predict" && count == 1
                ? throw new ModuleException(ErrorKind.Unavailable, "engine pool exhausted")
                : Task.CompletedTask,
        };
        using var factory = Factory(faults, ("Temporal:StatsPollSeconds", "0.2"));
        var client = await ClientAsync(factory);
        var valid = await client.PostAsJsonAsync("/api/v1/predictions", Body());
        Assert.That(valid.StatusCode, Is.EqualTo(HttpStatusCode.OK), await valid.Content.ReadAsStringAsync());
        var invalid = await client.PostAsJsonAsync("/api/v1/predictions", Body(version: "9.9.9"));
        Assert.That(invalid.StatusCode, Is.EqualTo((HttpStatusCode)422), "the workflow itself fails validation");

        // The gauges come from the server on the poller's next tick, after both runs closed.
        var text = "";
        await UntilAsync(async () =>
        {
            text = await client.GetStringAsync("/metrics");
            return Value(text, "formanova_workflow_active", ("workflow_type", "ProcessingWorkflow")) == 0
                && Value(text, "formanova_activity_queue_depth", ("task_queue", "formanova-primary")) is not null;
        }, TimeSpan.FromSeconds(30), "the workflow gauges");

        Assert.Multiple(() =>
        {
            Assert.That(
                Value(text, "formanova_workflow_executions_total", ("workflow_type", "ProcessingWorkflow"), ("outcome", "completed")),
                Is.EqualTo(1));
            Assert.That(
                Value(text, "formanova_workflow_executions_total", ("workflow_type", "ProcessingWorkflow"), ("outcome", "failed")),
                Is.EqualTo(1));
            Assert.That(Value(
                text,
                "formanova_workflow_execution_duration_seconds_count",
                ("workflow_type", "ProcessingWorkflow"),
                ("outcome", "completed")), Is.EqualTo(1));
            Assert.That(Value(
                text,
                "formanova_workflow_execution_duration_seconds_sum",
                ("workflow_type", "ProcessingWorkflow"),
                ("outcome", "completed")), Is.GreaterThan(0));
            Assert.That(Value(
                text,
                "formanova_workflow_retries_total",
                ("workflow_type", "ProcessingWorkflow"),
                ("activity", "run_model_inference")), Is.EqualTo(1));
            Assert.That(
                Value(text, "formanova_activity_executions_total", ("activity", "run_model_inference"), ("outcome", "failed")),
                Is.EqualTo(1));
            Assert.That(
                Value(text, "formanova_activity_executions_total", ("activity", "run_model_inference"), ("outcome", "completed")),
                Is.EqualTo(1));
            Assert.That(
                Value(text, "formanova_activity_executions_total", ("activity", "validate_input"), ("outcome", "failed")),
                Is.EqualTo(1));
            Assert.That(Value(
                text,
                "formanova_activity_execution_duration_seconds_count",
                ("activity", "persist_and_emit"),
                ("outcome", "completed")), Is.EqualTo(2));
            Assert.That(Value(
                text,
                "formanova_activity_execution_duration_seconds_bucket",
                ("activity", "persist_and_emit"),
                ("outcome", "completed"),
                ("le", "+Inf")), Is.EqualTo(2));
            Assert.That(Value(text, "formanova_workflow_active", ("workflow_type", "ModelTrainingWorkflow")), Is.Zero);
            Assert.That(Value(text, "formanova_activity_queue_depth", ("task_queue", "formanova-primary")), Is.Zero);
        });
    }

    [Test]
    public void WorkflowOutcome_WhenRunEndsWithAnException_NamesTheOutcomeOnlyForClosedRuns()
    {
        Assert.Multiple(() =>
        {
            Assert.That(TemporalWorkerInterceptor.WorkflowOutcome(new ApplicationFailureException("bad input")), Is.EqualTo("failed"));
            Assert.That(TemporalWorkerInterceptor.WorkflowOutcome(new OperationCanceledException()), Is.EqualTo("canceled"));
            Assert.That(
                TemporalWorkerInterceptor.WorkflowOutcome(new InvalidOperationException("bug")),
                Is.Null,
                "a workflow task failure is retried, the run stays open");
        });
    }

    /// <summary>The value of the one series of <paramref name="name"/> carrying all <paramref name="labels"/>; null when absent.</summary>
    internal static double? Value(string exposition, string name, params (string Key, string Value)[] labels)
    {
        foreach (Match line in Regex.Matches(exposition, $"^{Regex.Escape(name)}\\{{([^}}]*)\\}} (\\S+)", RegexOptions.Multiline))
        {
            if (labels.All(l => line.Groups[1].Value.Contains($"{l.Key}=\"{l.Value}\"", StringComparison.Ordinal)))
            {
                return double.Parse(line.Groups[2].Value, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }
}
