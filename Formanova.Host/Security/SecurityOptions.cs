using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Security;

/// <summary>The host's part of the <c>Auth</c> section.</summary>
internal sealed class AuthOptions
{
    public const string SectionName = "Auth";

    /// <summary>Off only for local experiments; start-up warns loudly when it is.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>An admin key installed on first start instead of a generated one. Set it from the environment.</summary>
    public string? BootstrapKey { get; set; }

    /// <summary>When false, /health/* and /metrics need a key with the read scope as well.</summary>
    public bool OpenProbes { get; set; } = true;
}

/// <summary>The <c>RateLimiting</c> section: token buckets per API key, per remote address, and for expensive starts.</summary>
internal sealed class RateLimitingOptions
{
    public const string SectionName = "RateLimiting";

    public bool Enabled { get; set; } = true;

    [ValidateObjectMembers]
    public Bucket PerKey { get; set; } = new() { PermitsPerSecond = 500, Burst = 1000 };

    /// <summary>Requests without a valid key, partitioned by remote address.</summary>
    [ValidateObjectMembers]
    public Bucket PerAddress { get; set; } = new() { PermitsPerSecond = 50, Burst = 100 };

    /// <summary>Per key, for endpoints that start training runs or batch jobs.</summary>
    [ValidateObjectMembers]
    public Bucket Expensive { get; set; } = new() { PermitsPerSecond = 0.2, Burst = 5 };

    internal sealed class Bucket
    {
        [Range(0.001, 1_000_000)]
        public double PermitsPerSecond { get; set; }

        [Range(1, 1_000_000)]
        public int Burst { get; set; }
    }
}

/// <summary>The <c>Http</c> section: transport hardening for deployments that terminate TLS in Kestrel.</summary>
internal sealed class HttpSecurityOptions
{
    public const string SectionName = "Http";

    public bool HttpsRedirection { get; set; }

    public bool Hsts { get; set; }

    /// <summary>Origins allowed to call the API from a browser. Empty: CORS stays off.</summary>
    public string[] CorsAllowedOrigins { get; set; } = [];

    /// <summary>A client that sends its body slower than this (after a grace period) gets 408.</summary>
    [Range(1, 1_000_000_000)]
    public double MinRequestBodyBytesPerSecond { get; set; } = 240;

    /// <summary>Kestrel requires more than one second.</summary>
    [Range(2, 600)]
    public int RequestBodyGracePeriodSeconds { get; set; } = 5;

    [Range(1, 600)]
    public int RequestHeadersTimeoutSeconds { get; set; } = 30;
}

[OptionsValidator]
internal sealed partial class RateLimitingOptionsValidator : IValidateOptions<RateLimitingOptions>;

[OptionsValidator]
internal sealed partial class HttpSecurityOptionsValidator : IValidateOptions<HttpSecurityOptions>;
