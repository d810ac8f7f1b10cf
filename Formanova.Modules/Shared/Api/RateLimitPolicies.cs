namespace Formanova.Modules.Shared.Api;

/// <summary>Named rate-limit policies the host defines; endpoints opt in with <c>RequireRateLimiting</c>.</summary>
public static class RateLimitPolicies
{
    /// <summary>Starts of long, costly work (training runs, batch jobs): a much tighter per-key budget.</summary>
    public const string Expensive = "expensive";
}
