using System.Net;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Formanova.Host.Temporal;
using Formanova.Tests.Support;
using Temporalio.Activities;
using Temporalio.Workflows;
using static Formanova.Host.Telemetry.RunOutcome;
using static Formanova.Tests.Host.Telemetry.WorkflowMetricsTests;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Host.Telemetry;

/// <summary>
/// The series the alert rules (deploy/prometheus/alerts.yml) and the dashboard (deploy/grafana/dashboards) read are
/// on /metrics: the counters from start-up at zero, and every referenced name once a little traffic has run.
/// Redis is configured as in every deployment, so the L2 series exist.
/// </summary>
[Category("Integration")]
public sealed class AlertMetricsTests
{
    /// <summary>
    /// Series that no Formanova process exports, each with where it comes from. Every entry must be referenced, so the
    /// list cannot outlive the rules that made it necessary.
    /// </summary>
    private static readonly Dictionary<string, string> OtherExporters = new(StringComparer.Ordinal)
    {
        ["up"] = "written by Prometheus for each scrape target (the instance-down alerts, the dashboard's instance count)",
        ["redis_up"] = "redis_exporter (RedisDown)",
        ["pg_up"] = "postgres_exporter (PostgresDown)",
        ["pg_stat_activity_count"] = "postgres_exporter (PostgresConnectionsNearLimit)",
        ["pg_settings_max_connections"] = "postgres_exporter (PostgresConnectionsNearLimit)",
    };

    [Test]
    public async Task Metrics_AtStartUp_ExportEveryCounterSeriesTheWorkerAndCacheCanEmitAtZero()
    {
        using var factory = new FormanovaFactory(Settings(("Cache:Redis", TestServices.Redis())));
        using var client = factory.CreateClient();

        var text = await client.GetStringAsync("/metrics");

        // Every workflow and activity the host defines, found by their attributes (the worker registers them all).
        var types = typeof(TemporalSetup).Assembly.GetTypes();
        var workflows = types.Where(t => t.IsDefined(typeof(WorkflowAttribute))).Select(t => WorkflowDefinition.Create(t).Name!).ToList();
        var activities = types
            .SelectMany(t => t.GetMethods())
            .Select(m => m.GetCustomAttribute<ActivityAttribute>() is { } activity ? activity.Name ?? m.Name.Replace("Async", "") : null)
            .OfType<string>()
            .ToList();
        Assert.That(workflows, Does.Contain("ModelTrainingWorkflow").And.Count.EqualTo(7));
        Assert.That(activities, Does.Contain("train_model").And.Count.GreaterThan(20));
        Assert.Multiple(() =>
        {
            foreach (var workflow in workflows)
            {
                foreach (var outcome in OfWorkflow)
                {
                    Assert.That(
                        Value(text, "formanova_workflow_executions_total", ("workflow_type", workflow), ("outcome", outcome)),
                        Is.Zero,
                        $"{workflow} {outcome}");
                }

                foreach (var activity in activities)
                {
                    Assert.That(
                        Value(text, "formanova_workflow_retries_total", ("workflow_type", workflow), ("activity", activity)),
                        Is.Zero,
                        $"{workflow} retries of {activity}");
                }
            }

            foreach (var activity in activities)
            {
                foreach (var outcome in OfActivity)
                {
                    Assert.That(
                        Value(text, "formanova_activity_executions_total", ("activity", activity), ("outcome", outcome)),
                        Is.Zero,
                        $"{activity} {outcome}");
                }
            }

            foreach (var level in new[] { "l1", "l2" })
            {
                foreach (var outcome in new[] { "hit", "miss" })
                {
                    Assert.That(
                        Value(text, "formanova_cache_lookups_total", ("area", "model"), ("level", level), ("outcome", outcome)),
                        Is.Zero,
                        $"cache {level} {outcome}");
                }
            }

            Assert.That(Value(text, "formanova_cache_l2_failures_total", ("area", "model")), Is.Zero);
        });
    }

    [Test]
    public async Task Metrics_AfterTraffic_ExposeEveryMetricTheAlertRulesAndTheDashboardRead()
    {
        using var factory = Factory(extra: [("Cache:Redis", TestServices.Redis()), ("Temporal:StatsPollSeconds", "0.2")]);
        var client = await ClientAsync(factory);
        var workflow = await client.PostAsJsonAsync("/api/v1/predictions", Body());
        Assert.That(workflow.StatusCode, Is.EqualTo(HttpStatusCode.OK), await workflow.Content.ReadAsStringAsync());
        // A monitored model's check fills the drift gauges, and with feedback the quality ones (docs/monitoring.md).
        var policy = await client.PutAsJsonAsync(
            $"/api/v1/models/{DemoModel}/monitoring/policy", new { thresholds = new { minRows = 1, minFeedback = 1 } });
        Assert.That(policy.StatusCode, Is.EqualTo(HttpStatusCode.OK), await policy.Content.ReadAsStringAsync());
        var direct = await client.PostAsJsonAsync($"/api/v1/models/{DemoModel}/predict", new { inputs = ValidInput() });
        Assert.That(direct.StatusCode, Is.EqualTo(HttpStatusCode.OK), await direct.Content.ReadAsStringAsync());
        var predictionId = (string)(await direct.Content.ReadFromJsonAsync<JsonObject>())!["predictionId"]!;
        // The log writes off the request path: the prediction is matched once its batch is written.
        await UntilAsync(async () =>
        {
            var items = new[] { new { predictionId, outcome = "true" } };
            var feedback = await client.PostAsJsonAsync("/api/v1/feedback", new { items });
            return feedback.IsSuccessStatusCode && (int?)(await feedback.Content.ReadFromJsonAsync<JsonObject>())?["notMatched"] == 0;
        }, TimeSpan.FromSeconds(30), "the prediction's feedback to be recorded");
        var check = await client.PostAsync($"/api/v1/models/{DemoModel}/monitoring/check", null);
        Assert.That(check.StatusCode, Is.EqualTo(HttpStatusCode.OK), await check.Content.ReadAsStringAsync());

        var (rules, recorded) = AlertRules();
        var referenced = rules.Concat(DashboardQueries()).SelectMany(MetricNames).ToHashSet(StringComparer.Ordinal);
        var expected = referenced
            .Where(name => !name.Contains(':', StringComparison.Ordinal) && !OtherExporters.ContainsKey(name))
            // The network counter reads Linux's /proc/net/dev; SystemMetrics leaves it out elsewhere.
            .Where(name => name != "formanova_system_network_io_bytes_total" || File.Exists("/proc/net/dev"))
            .Order(StringComparer.Ordinal)
            .ToList();
        // The workflow gauges come from the Temporal server on the poller's next tick: scrape until all are there or
        // the deadline passes, then name what is missing.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var exposed = SampleNames(await client.GetStringAsync("/metrics"));
        while (!exposed.IsSupersetOf(expected) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            exposed = SampleNames(await client.GetStringAsync("/metrics"));
        }

        Assert.Multiple(() =>
        {
            Assert.That(expected, Has.Count.GreaterThan(20), "the expressions were found and parsed");
            Assert.That(expected.Except(exposed), Is.Empty, "referenced but not on /metrics");
            Assert.That(
                referenced.Where(name => name.Contains(':', StringComparison.Ordinal)).Except(recorded),
                Is.Empty,
                "recording rules referenced but not defined in alerts.yml");
            Assert.That(OtherExporters.Keys.Except(referenced), Is.Empty, "exclusions no rule or panel references");
        });
    }

    [Test]
    public void MetricNames_OfAnExpression_AreItsSeriesNotItsFunctionsLabelsOrKeywords()
    {
        var names = MetricNames("""
            histogram_quantile(0.95, sum by (le, model) (rate(a_bucket{job="formanova", route!~"/x/.*|y"}[$__rate_interval])))
            / on (instance) group_left max by (instance) (b_count offset 5m) > 1e3
            or sum(c_total) without (le) unless formanova:d:rate5m and vector(0)
            """);

        Assert.That(names, Is.EquivalentTo(new[] { "a_bucket", "b_count", "c_total", "formanova:d:rate5m" }));
    }

    /// <summary>
    /// The metric names an expression reads, found crudely: strings, label matchers, ranges and the label lists of
    /// <c>by</c>, <c>without</c>, <c>on</c>, <c>ignoring</c> and the group modifiers are cut out, and what is left of the
    /// identifiers, less functions (followed by a parenthesis) and keywords, are series names. Histogram series keep
    /// their suffix (<c>_bucket</c>, <c>_count</c>, <c>_sum</c>), as /metrics prints them.
    /// </summary>
    internal static IEnumerable<string> MetricNames(string expression)
    {
        var text = Regex.Replace(expression, """
            "(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'
            """.Trim(), " ");
        text = Regex.Replace(text, @"\{[^}]*\}|\[[^\]]*\]", " ");
        text = Regex.Replace(text, @"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ");
        string[] keywords = ["and", "or", "unless", "offset", "bool", "group_left", "group_right", "inf", "nan"];
        return Regex.Matches(text, @"(?<![\w:.$])(?>[a-zA-Z_:][\w:]*)(?!\s*\()")
            .Select(m => m.Value)
            .Where(name => !keywords.Contains(name, StringComparer.OrdinalIgnoreCase))
            .Distinct(StringComparer.Ordinal);
    }

    /// <summary>The sample names of a Prometheus exposition (histograms as their _bucket, _count and _sum lines).</summary>
    private static HashSet<string> SampleNames(string exposition) => Regex
        .Matches(exposition, @"^([a-zA-Z_:][\w:]*)[{ ]", RegexOptions.Multiline)
        .Select(m => m.Groups[1].Value)
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The <c>expr</c> of every rule in alerts.yml and the names it records. A small reader for the two forms the file
    /// uses (a plain one-line scalar and a <c>|</c> block); it fails on any other, and counts the rules it read.
    /// </summary>
    private static (List<string> Expressions, HashSet<string> Recorded) AlertRules()
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryFiles.Root(), "deploy", "prometheus", "alerts.yml"));
        var expressions = new List<string>();
        var recorded = new HashSet<string>(StringComparer.Ordinal);
        var rules = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var rule = Regex.Match(lines[i], @"^\s*- (alert|record): (\S+)\s*$");
            if (rule.Success)
            {
                rules++;
                if (rule.Groups[1].Value == "record")
                {
                    recorded.Add(rule.Groups[2].Value);
                }
            }

            var expr = Regex.Match(lines[i], @"^(\s*)expr: (.*)$");
            if (!expr.Success)
            {
                continue;
            }

            var value = expr.Groups[2].Value.Trim();
            if (value is "|" or "|-")
            {
                var indent = expr.Groups[1].Value.Length;
                var block = new List<string>();
                while (i + 1 < lines.Length
                    && (lines[i + 1].Trim().Length == 0 || lines[i + 1].Length - lines[i + 1].TrimStart().Length > indent))
                {
                    block.Add(lines[++i]);
                }

                value = string.Join('\n', block);
            }
            else if (value.StartsWith('>') || value.StartsWith('"') || value.StartsWith('\''))
            {
                Assert.Fail($"alerts.yml line {i + 1}: this reader knows plain and '|' expressions only: {value}");
            }

            expressions.Add(value);
        }

        Assert.That(expressions, Has.Count.EqualTo(rules), "one expression per rule in alerts.yml");
        return (expressions, recorded);
    }

    /// <summary>The query of every panel target of the dashboards.</summary>
    private static IEnumerable<string> DashboardQueries() =>
        Directory.GetFiles(Path.Combine(RepositoryFiles.Root(), "deploy", "grafana", "dashboards"), "*.json")
            .SelectMany(file => Expressions(JsonNode.Parse(File.ReadAllText(file))));

    private static IEnumerable<string> Expressions(JsonNode? node) => node switch
    {
        JsonObject obj => obj.SelectMany(property => property.Key == "expr" && property.Value is JsonValue value
            ? [value.GetValue<string>()]
            : Expressions(property.Value)),
        JsonArray array => array.SelectMany(Expressions),
        _ => [],
    };
}
