using System.Globalization;

namespace Formanova.Host.Workflows.Training;

/// <summary>
/// The versions a training schedule's runs register: <c>{major}.{yyyyMMdd}.{HHmmss}</c> of the run's start in UTC
/// (the patch number without leading zeros), so each firing registers a new version and later runs sort higher.
/// </summary>
internal static class TrainingVersions
{
    /// <summary>The major number of a version such as 2.0.0 (or v2.0.0); 0 when it has none.</summary>
    public static int Major(string version)
    {
        var text = version.Trim().TrimStart('v', 'V');
        var end = text.IndexOf('.', StringComparison.Ordinal);
        return int.TryParse(end < 0 ? text : text[..end], NumberStyles.None, CultureInfo.InvariantCulture, out var major) ? major : 0;
    }

    public static string Scheduled(int major, DateTime startedAt) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"{major}.{startedAt:yyyyMMdd}.{(startedAt.Hour * 10000) + (startedAt.Minute * 100) + startedAt.Second}");
}
