using Formanova.Tests.Support.Conformance;

namespace Formanova.Tests;

/// <summary>
/// After every test of the run: fails when any <c>/api</c> response a <see cref="Support.FormanovaFactory"/> host gave
/// did not conform to the served OpenAPI document (<see cref="ConformanceMiddleware"/>), and reports how many were checked.
/// </summary>
[SetUpFixture]
public sealed class ConformanceSetUpFixture
{
    [OneTimeTearDown]
    public void ReportConformance()
    {
        var violations = ConformanceLog.Violations.ToArray();
        TestContext.Progress.WriteLine(
            $"OpenAPI conformance: {ConformanceLog.Validated} responses validated, {violations.Length} violations.");
        if (violations.Length > 0)
        {
            // Grouped by what is wrong, with one body as the example: the same gap is usually met many times.
            var groups = violations.GroupBy(v => v.Split(" Body: ")[0], StringComparer.Ordinal)
                .OrderByDescending(g => g.Count())
                .Select(g => $"({g.Count()}x) {g.First()}");
            Assert.Fail(
                $"{violations.Length} responses do not conform to the OpenAPI document:{Environment.NewLine}"
                + string.Join(Environment.NewLine, groups.Take(200)));
        }
    }
}
