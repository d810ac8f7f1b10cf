using System.Text.Json;
using System.Text.RegularExpressions;
using Formanova.Host.Workflows.Common;

namespace Formanova.Host.Workflows.Training;

/// <summary>
/// One reason a training run failed, as the run's stored outcome and its TRAINING_FAILED event list it.
/// <see cref="Field"/> is the key the module gave (<c>rows[12]</c>, <c>testRows[3]</c>, <c>version</c>);
/// <see cref="Row"/> is the row's 0-based position in the rows the train step read (the dataset in row order, after
/// the run's transforms), <see cref="Column"/> the column at fault when one is named.
/// </summary>
public sealed record TrainingProblem(string Field, long? Row, string? Column, string Reason);

/// <summary>
/// The problems of a failed step, read from the field → reasons details its failure carries (ActivityErrors), at
/// most <see cref="Max"/> of them. Called from workflow code: a pure function of the failure.
/// </summary>
internal static partial class TrainingProblems
{
    /// <summary>At most this many problems are stored and published per run (the Model module lists the first 20 bad rows).</summary>
    public const int Max = 50;

    public static (List<TrainingProblem> Problems, int Omitted) Of(Exception failure, IReadOnlyCollection<string> columns)
    {
        var details = Details(failure);
        var problems = new List<TrainingProblem>();
        var total = 0;
        foreach (var (field, reasons) in details.OrderBy(kv => RowOf(kv.Key) ?? -1).ThenBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var match = RowField().Match(field);
            foreach (var reason in reasons)
            {
                total++;
                if (problems.Count < Max)
                {
                    problems.Add(Problem(field, match, reason, columns));
                }
            }
        }

        return (problems, total - problems.Count);
    }

    private static TrainingProblem Problem(string field, Match match, string reason, IReadOnlyCollection<string> columns)
    {
        if (!match.Success)
        {
            return new TrainingProblem(field, null, null, reason);
        }

        var row = long.Parse(match.Groups["row"].Value, System.Globalization.CultureInfo.InvariantCulture);
        if (match.Groups["column"].Success)
        {
            return new TrainingProblem(field, row, match.Groups["column"].Value, reason);
        }

        // The Model module writes a row's problems as "column: reason".
        var colon = reason.IndexOf(": ", StringComparison.Ordinal);
        return colon > 0 && columns.Contains(reason[..colon])
            ? new TrainingProblem(field, row, reason[..colon], reason[(colon + 2)..])
            : new TrainingProblem(field, row, null, reason);
    }

    private static long? RowOf(string field) =>
        RowField().Match(field) is { Success: true } match
            ? long.Parse(match.Groups["row"].Value, System.Globalization.CultureInfo.InvariantCulture)
            : null;

    private static Dictionary<string, string[]> Details(Exception failure)
    {
        if (ActivityErrors.Application(failure) is not { Details.Count: > 0 } app)
        {
            return [];
        }

        try
        {
            return app.Details.ElementAt<Dictionary<string, string[]>>(0) ?? [];
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or NotSupportedException or ArgumentException)
        {
            // Details of another shape list no problems; the failure's message still says what happened.
            return [];
        }
    }

    [GeneratedRegex(@"^(?:rows|testRows)\[(?<row>\d+)\](?:\.(?<column>.+))?$")]
    private static partial Regex RowField();
}
