namespace Formanova.Tests.Support;

/// <summary>
/// Connection settings for the real services that <c>.ci/run</c> starts. Where a setting is unset the test is
/// ignored with the reason, unless FORMANOVA_REQUIRE_SERVICES=1 (CI), where a missing service fails the run.
/// </summary>
internal static class TestServices
{
    public const string PostgresVariable = "FORMANOVA_TEST_POSTGRES";
    public const string RedisVariable = "FORMANOVA_TEST_REDIS";

    private static bool Required => Environment.GetEnvironmentVariable("FORMANOVA_REQUIRE_SERVICES") == "1";

    /// <summary>An Npgsql connection string to a server where the test user may create databases.</summary>
    public static string Postgres() => Require(PostgresVariable, "PostgreSQL");

    /// <summary>A StackExchange.Redis configuration string, e.g. <c>127.0.0.1:56379</c>.</summary>
    public static string Redis() => Require(RedisVariable, "Redis");

    /// <summary>
    /// For tests that need Redis to answer: every Redis call is bounded by this (500 ms in production), and a
    /// loaded CI box has taken longer than that for a local ping. Such tests are about wiring, not speed.
    /// </summary>
    public const int RedisTimeoutMilliseconds = 5000;

    /// <summary><see cref="RedisTimeoutMilliseconds"/> as a host setting.</summary>
    public static readonly KeyValuePair<string, string?> RedisTimeout = new("Cache:L2:TimeoutMilliseconds", $"{RedisTimeoutMilliseconds}");

    /// <summary>
    /// Why a provider variant is skipped as a whole (the service is unset and not required), or null when it runs.
    /// Where it is required, the variant runs and its set-up fails through <see cref="Require"/>.
    /// </summary>
    public static string? SkipReason(string variable, string service) =>
        Required || !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(variable))
            ? null
            : $"{service} is not configured: set {variable} (.ci/run does).";

    private static string Require(string variable, string service)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (!string.IsNullOrWhiteSpace(value))
        {
            return value;
        }

        return Unavailable($"{service} is not configured: set {variable} (.ci/run does).");
    }

    /// <summary>Ignores the test with <paramref name="reason"/>, or fails it under FORMANOVA_REQUIRE_SERVICES=1; never returns.</summary>
    public static string Unavailable(string reason)
    {
        if (Required)
        {
            Assert.Fail(reason + " FORMANOVA_REQUIRE_SERVICES=1 forbids skipping.");
        }

        Assert.Ignore(reason);
        return "";
    }
}
