namespace Formanova.Host.Dashboard.Overview;

/// <summary>What the overview shows: workflows, models and the last hour of predictions, each with its own error state.</summary>
public sealed record OverviewModel(WorkflowSummary Workflows, ModelsSummary Models, PredictionSummary Predictions);

/// <summary>
/// Runs by kind and status, the running ones with their progress, and the most recent closed ones; <c>Error</c> says why
/// Temporal could not be read, and the other fields are then empty.
/// </summary>
public sealed record WorkflowSummary(
    IReadOnlyList<KindCounts> Counts,
    IReadOnlyList<RunRow> Running,
    IReadOnlyList<RunRow> Recent,
    string? Error);

/// <summary>How many runs of one kind are in each status (the API's status names: running, completed, failed, ...).</summary>
public sealed record KindCounts(string Kind, string Label, IReadOnlyDictionary<string, long> ByStatus)
{
    public long Total => ByStatus.Values.Sum();

    public long Of(string status) => ByStatus.TryGetValue(status, out var count) ? count : 0;
}

/// <summary>One run as the lists show it. <paramref name="Stage"/> and <paramref name="ProgressPercent"/> only for running runs.</summary>
public sealed record RunRow(
    string Id,
    string Kind,
    string Status,
    string? Stage,
    double? ProgressPercent,
    DateTime StartedAt,
    DateTime? ClosedAt);

/// <summary>Each model with its active version; <paramref name="Error"/> when the registry could not be read.</summary>
public sealed record ModelsSummary(IReadOnlyList<ModelRow> Models, string? Error);

public sealed record ModelRow(
    string Name,
    string Task,
    string? ActiveVersion,
    int VersionCount,
    string LatestVersion,
    IReadOnlyDictionary<string, string> Aliases);

/// <summary>
/// This process's predictions over the last hour (<see cref="WindowMinutes"/> when it has run for less): requests (single or
/// batch), their rate, the share that failed, latency percentiles in milliseconds and the cache's hit rate.
/// </summary>
public sealed record PredictionSummary(
    long Requests,
    double RatePerMinute,
    double? ErrorRate,
    long Fallbacks,
    double? P50Milliseconds,
    double? P95Milliseconds,
    double? CacheHitRate,
    long CacheLookups,
    int WindowMinutes,
    IReadOnlyList<MinuteSample> Minutes);

/// <summary>One minute of predictions, for the charts.</summary>
public sealed record MinuteSample(DateTimeOffset Minute, long Requests, long Failures, double? P95Milliseconds);
