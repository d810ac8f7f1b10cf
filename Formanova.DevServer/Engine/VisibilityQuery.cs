using System.Text.RegularExpressions;
using Temporalio.Api.Enums.V1;

namespace Formanova.DevServer.Engine;

/// <summary>
/// The subset of the visibility query language the dev server answers: equality and inequality on
/// WorkflowId, WorkflowType, ExecutionStatus, RunId and TaskQueue joined by AND.
/// </summary>
internal sealed partial class VisibilityQuery
{
    private readonly List<(string Field, bool Equal, string Value)> _clauses = [];

    [GeneratedRegex(@"^\s*(\w+)\s*(=|!=)\s*(?:'((?:[^']|'')*)'|""([^""]*)"")\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex ClauseRegex();

    [GeneratedRegex(@"\s+AND\s+(?=(?:[^']*'[^']*')*[^']*$)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex AndRegex();

    [GeneratedRegex(@"\s+ORDER\s+BY\s+.*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex OrderByRegex();

    public static VisibilityQuery Parse(string? query)
    {
        var result = new VisibilityQuery();
        if (string.IsNullOrWhiteSpace(query))
        {
            return result;
        }

        // Results are always newest first; an ORDER BY StartTime DESC is accepted and anything else refused.
        var order = OrderByRegex().Match(query);
        if (order.Success)
        {
            if (!Regex.IsMatch(
                order.Value,
                @"^\s+ORDER\s+BY\s+StartTime(\s+DESC)?\s*$",
                RegexOptions.IgnoreCase | RegexOptions.CultureInvariant))
            {
                throw Errors.InvalidArgument("Only ORDER BY StartTime DESC is supported.");
            }

            query = query[..order.Index];
        }

        foreach (var part in AndRegex().Split(query))
        {
            var match = ClauseRegex().Match(part);
            if (!match.Success)
            {
                throw Errors.InvalidArgument($"Unsupported visibility query clause: {part.Trim()}");
            }

            var field = match.Groups[1].Value;
            if (field is not ("WorkflowId" or "WorkflowType" or "ExecutionStatus" or "RunId" or "TaskQueue"))
            {
                throw Errors.InvalidArgument($"Unsupported search attribute {field}.");
            }

            var value = match.Groups[3].Success
                ? match.Groups[3].Value.Replace("''", "'", StringComparison.Ordinal)
                : match.Groups[4].Value;
            if (field == "ExecutionStatus" && !Enum.TryParse<WorkflowExecutionStatus>(value, true, out _))
            {
                throw Errors.InvalidArgument($"Unknown ExecutionStatus {value}.");
            }

            result._clauses.Add((field, match.Groups[2].Value == "=", value));
        }

        return result;
    }

    public bool Matches(WorkflowRun run)
    {
        foreach (var (field, equal, value) in _clauses)
        {
            var actual = field switch
            {
                "WorkflowId" => run.WorkflowId,
                "WorkflowType" => run.Start.WorkflowType.Name,
                "RunId" => run.RunId,
                "TaskQueue" => run.Start.TaskQueue.Name,
                _ => run.Status.ToString(),
            };
            var same = field == "ExecutionStatus" ? string.Equals(actual, value, StringComparison.OrdinalIgnoreCase) : actual == value;
            if (same != equal)
            {
                return false;
            }
        }

        return true;
    }
}
