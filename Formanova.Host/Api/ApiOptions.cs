using System.ComponentModel.DataAnnotations;

namespace Formanova.Host.Api;

/// <summary>The <c>Api</c> configuration section.</summary>
internal sealed class ApiOptions
{
    public const string SectionName = "Api";

    /// <summary>The default request-body limit; upload endpoints declare larger limits of their own.</summary>
    [Range(1024, long.MaxValue)]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    [Range(1, 256)]
    public int MaxJsonDepth { get; set; } = 32;

    /// <summary>The Retry-After every 503 answer carries (a database outage, an unavailable dependency).</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 5;
}
