using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Shared.Caching;

/// <summary>
/// The <c>Cache</c> configuration section: the in-process L1 and the Redis L2. docs/configuration.md ("Cache") lists
/// the settings and their defaults; docs/architecture.md ("Cache") describes how the two levels behave.
/// </summary>
public sealed class CacheOptions
{
    public const string SectionName = "Cache";

    /// <summary>StackExchange.Redis configuration string, e.g. <c>localhost:6379,defaultDatabase=0</c>. Empty: L1 only.</summary>
    public string? Redis { get; set; }

    [ValidateObjectMembers]
    public L1Options L1 { get; set; } = new();

    [ValidateObjectMembers]
    public L2Options L2 { get; set; } = new();

    public sealed class L1Options
    {
        public bool Enabled { get; set; } = true;

        [Range(1, 10_000_000)]
        public int MaxEntries { get; set; } = 1000;

        [Range(1, 86_400 * 30)]
        public int TtlSeconds { get; set; } = 600;
    }

    public sealed class L2Options
    {
        public bool Enabled { get; set; } = true;

        [Range(1, 86_400 * 30)]
        public int TtlSeconds { get; set; } = 3600;

        /// <summary>Every Redis call is bounded by this, so a slow or dead Redis never slows a request much.</summary>
        [Range(10, 60_000)]
        public int TimeoutMilliseconds { get; set; } = 500;

        /// <summary>After a failure, L2 is skipped for this long before it is tried again.</summary>
        [Range(1, 3600)]
        public int RetryAfterSeconds { get; set; } = 5;

        public string InstanceName { get; set; } = "formanova:";
    }
}

[OptionsValidator]
internal sealed partial class CacheOptionsValidator : IValidateOptions<CacheOptions>;
