using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Api;

/// <summary>The <c>Api</c> configuration section.</summary>
internal sealed class ApiOptions
{
    public const string SectionName = "Api";

    /// <summary>
    /// The default request-body limit; upload endpoints declare larger limits of their own. A JSON body becomes a
    /// workflow's input, and a Temporal cluster refuses payloads over 2 MB: the cap keeps what the API accepts within
    /// what a workflow can carry, with room for the run's own fields.
    /// </summary>
    [Range(1024, 1_572_864)]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    [Range(1, 256)]
    public int MaxJsonDepth { get; set; } = 32;

    /// <summary>One line per request (<see cref="RequestLogMiddleware"/>); false leaves the middleware out entirely.</summary>
    public bool RequestLogging { get; set; } = true;

    /// <summary>The Retry-After every 503 answer carries (a database outage, an unavailable dependency).</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 5;
}

[OptionsValidator]
internal sealed partial class ApiOptionsValidator : IValidateOptions<ApiOptions>;
