using Formanova.DevServer.Engine;
using Grpc.Core;
using Temporalio.Api.Enums.V1;

namespace Formanova.Tests.DevServer;

/// <summary>The visibility query parser and evaluator on plain rows, without a server.</summary>
[TestFixture]
public class VisibilityQueryTests
{
    private static readonly Dictionary<string, IndexedValueType> Types = new(StringComparer.Ordinal)
    {
        ["WorkflowId"] = IndexedValueType.Keyword,
        ["ExecutionStatus"] = IndexedValueType.Keyword,
        ["WorkflowType"] = IndexedValueType.Keyword,
        ["StartTime"] = IndexedValueType.Datetime,
        ["ExecutionDuration"] = IndexedValueType.Int,
        ["CustomKeyword"] = IndexedValueType.Keyword,
        ["CustomText"] = IndexedValueType.Text,
        ["CustomInt"] = IndexedValueType.Int,
        ["CustomDouble"] = IndexedValueType.Double,
        ["CustomBool"] = IndexedValueType.Bool,
        ["CustomDatetime"] = IndexedValueType.Datetime,
        ["CustomKeywordList"] = IndexedValueType.KeywordList,
    };

    private static readonly Dictionary<string, object?> Row = new(StringComparer.Ordinal)
    {
        ["WorkflowId"] = "wf-1",
        ["ExecutionStatus"] = "Running",
        ["StartTime"] = new DateTime(2026, 12, 7, 10, 0, 0, DateTimeKind.Utc),
        ["ExecutionDuration"] = null,
        ["CustomKeyword"] = "alpha-1",
        ["CustomText"] = "The quick brown Fox",
        ["CustomInt"] = 42L,
        ["CustomDouble"] = 0.5,
        ["CustomBool"] = true,
        ["CustomDatetime"] = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc),
        ["CustomKeywordList"] = new[] { "red", "green" },
    };

    private static VisibilityQuery Parse(string query) =>
        VisibilityQuery.Parse(query, name => Types.TryGetValue(name, out var t) ? t : null);

    private static bool Matches(string query) => Parse(query).Matches(name => Row[name]);

    [TestCase("")]
    [TestCase("CustomKeyword = 'alpha-1'")]
    [TestCase("CustomKeyword != 'beta'")]
    [TestCase("CustomKeyword <> 'beta'")]
    [TestCase("CustomKeyword > 'alpha' AND CustomKeyword < 'b'")]
    [TestCase("CustomKeyword IN ('x', 'alpha-1')")]
    [TestCase("CustomKeyword NOT IN ('x', 'y')")]
    [TestCase("CustomKeyword STARTS_WITH 'alp'")]
    [TestCase("CustomKeyword NOT STARTS_WITH 'bet'")]
    [TestCase("CustomText = 'quick fox'")]
    [TestCase("CustomText != 'slow'")]
    [TestCase("CustomInt = 42")]
    [TestCase("CustomInt >= 42 AND CustomInt <= 42")]
    [TestCase("CustomInt BETWEEN 40 AND 50")]
    [TestCase("CustomInt NOT BETWEEN 1 AND 2")]
    [TestCase("CustomInt IN (1, 42)")]
    [TestCase("CustomInt = '42'")]
    [TestCase("CustomDouble > 0.25")]
    [TestCase("CustomDouble < 1e3")]
    [TestCase("CustomBool = true")]
    [TestCase("CustomBool = 'TRUE'")]
    [TestCase("CustomBool != false")]
    [TestCase("CustomDatetime > '2026-01-01T00:00:00Z'")]
    [TestCase("CustomDatetime BETWEEN '2026-01-02T03:04:05Z' AND '2026-01-02T03:04:05+00:00'")]
    [TestCase("CustomKeywordList = 'green'")]
    [TestCase("CustomKeywordList != 'blue'")]
    [TestCase("CustomKeywordList IN ('blue', 'red')")]
    [TestCase("CustomKeywordList STARTS_WITH 'gr'")]
    [TestCase("ExecutionDuration IS NULL AND CustomInt IS NOT NULL")]
    [TestCase("ExecutionStatus = 'running'")]
    [TestCase("(CustomInt = 1 OR CustomInt = 42) AND WorkflowId = 'wf-1'")]
    [TestCase("CustomInt = 1 OR CustomKeyword = 'alpha-1' AND CustomBool = true")]
    [TestCase("`CustomKeyword` = \"alpha-1\"")]
    [TestCase("WorkflowId = 'wf-1' ORDER BY CustomInt DESC")]
    [TestCase("StartTime > '2026-12-07T09:59:59.999Z'")]
    public void Matches_WhenQueryHolds_ReturnsTrue(string query) => Assert.That(Matches(query), Is.True);

    [TestCase("CustomKeyword = 'alpha'")]
    [TestCase("CustomKeyword IN ('x', 'y')")]
    [TestCase("CustomKeyword NOT IN ('alpha-1')")]
    [TestCase("CustomKeyword STARTS_WITH 'lpha'")]
    [TestCase("CustomText = 'quick cat'")]
    [TestCase("CustomInt > 42")]
    [TestCase("CustomInt BETWEEN 43 AND 50")]
    [TestCase("CustomDouble >= 0.75")]
    [TestCase("CustomBool = false")]
    [TestCase("CustomKeywordList = 'blue'")]
    [TestCase("CustomKeywordList != 'red'")]
    [TestCase("ExecutionDuration > 0")]
    [TestCase("ExecutionDuration != 5")]
    [TestCase("ExecutionDuration IS NOT NULL")]
    [TestCase("CustomInt = 1 AND (CustomInt = 42 OR CustomBool = true)")]
    [TestCase("ExecutionStatus = 'Completed'")]
    public void Matches_WhenQueryDoesNotHold_ReturnsFalse(string query) => Assert.That(Matches(query), Is.False);

    [TestCase("Unknown = 'x'", "Unknown")]
    [TestCase("CustomInt = 'abc'", "CustomInt")]
    [TestCase("CustomText > 'a'", "CustomText")]
    [TestCase("CustomKeywordList BETWEEN 'a' AND 'b'", "CustomKeywordList")]
    [TestCase("CustomInt STARTS_WITH '4'", "CustomInt")]
    [TestCase("CustomBool < true", "CustomBool")]
    [TestCase("ExecutionStatus = 'Sleeping'", "Sleeping")]
    [TestCase("CustomDatetime = 'yesterday'", "CustomDatetime")]
    [TestCase("WorkflowId LIKE 'wf%'", "LIKE")]
    [TestCase("WorkflowId = 'x' ORDER BY CustomText", "CustomText")]
    [TestCase("WorkflowId = 'x' ORDER BY Nope DESC", "Nope")]
    [TestCase("GROUP BY WorkflowType", "ExecutionStatus")]
    [TestCase("WorkflowId = 'x' GROUP BY ExecutionStatus ORDER BY StartTime", "GROUP BY")]
    [TestCase("WorkflowId = 'unterminated", "unterminated")]
    [TestCase("(WorkflowId = 'x'", "')'")]
    [TestCase("WorkflowId = 'x' AND", "search attribute name")]
    [TestCase("WorkflowId = 'x' extra", "extra")]
    [TestCase("WorkflowId ; 'x'", ";")]
    public void Parse_WhenQueryIsInvalid_ThrowsInvalidArgumentNamingTheProblem(string query, string named)
    {
        var error = Assert.Throws<RpcException>(() => Parse(query))!;
        Assert.Multiple(() =>
        {
            Assert.That(error.StatusCode, Is.EqualTo(StatusCode.InvalidArgument));
            Assert.That(error.Status.Detail, Does.Contain(named));
        });
    }

    [Test]
    public void Parse_WithOrderByAndGroupBy_ExposesThem()
    {
        var ordered = Parse("CustomKeyword = 'x' ORDER BY CustomInt DESC, StartTime");
        var grouped = Parse("CustomKeyword = 'x' GROUP BY ExecutionStatus");

        Assert.Multiple(() =>
        {
            Assert.That(
                ordered.OrderBy.Select(o => (o.Field.Name, o.Descending)),
                Is.EqualTo(new[] { ("CustomInt", true), ("StartTime", false) }));
            Assert.That(ordered.GroupBy, Is.Null);
            Assert.That(grouped.GroupBy?.Name, Is.EqualTo("ExecutionStatus"));
            Assert.That(grouped.OrderBy, Is.Empty);
        });
    }

    [Test]
    public void Parse_WithDurationLiteral_ComparesExecutionDurationInNanoseconds()
    {
        var query = Parse("ExecutionDuration > '1m30s' AND ExecutionDuration < 100000000000");

        Assert.Multiple(() =>
        {
            Assert.That(query.Matches(_ => TimeSpan.FromSeconds(95).Ticks * 100), Is.True);
            Assert.That(query.Matches(_ => TimeSpan.FromSeconds(85).Ticks * 100), Is.False);
        });
    }

    [Test]
    public void CompareValues_WithNoValue_SortsAfterEveryValue() =>
        Assert.Multiple(() =>
        {
            Assert.That(VisibilityQuery.CompareValues(null, 1L), Is.Positive);
            Assert.That(VisibilityQuery.CompareValues(1L, null), Is.Negative);
            Assert.That(VisibilityQuery.CompareValues("b", "a"), Is.Positive);
        });
}
