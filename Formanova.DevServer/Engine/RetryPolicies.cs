using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Failure.V1;

namespace Formanova.DevServer.Engine;

/// <summary>Server-side retry rules shared by activity attempts and workflow retries.</summary>
internal static class RetryPolicies
{
    // For activities scheduled without a policy; docs/devserver.md (Activities) lists it.
    private static readonly RetryPolicy DefaultPolicy = new()
    {
        InitialInterval = Duration.FromTimeSpan(TimeSpan.FromSeconds(1)),
        BackoffCoefficient = 2.0,
        MaximumInterval = Duration.FromTimeSpan(TimeSpan.FromSeconds(60)),
        MaximumAttempts = 5,
    };

    public static RetryPolicy Complete(RetryPolicy? policy)
    {
        if (policy is null)
        {
            return DefaultPolicy.Clone();
        }

        var result = policy.Clone();
        if (Durations.Positive(result.InitialInterval) is null)
        {
            result.InitialInterval = DefaultPolicy.InitialInterval;
        }

        if (result.BackoffCoefficient < 1)
        {
            result.BackoffCoefficient = 2.0;
        }

        if (Durations.Positive(result.MaximumInterval) is null)
        {
            result.MaximumInterval = Duration.FromTimeSpan(result.InitialInterval.ToTimeSpan() * 100);
        }

        return result;
    }

    /// <summary>Delay before the next attempt, or null when the policy says stop.</summary>
    public static TimeSpan? Delay(RetryPolicy policy, int attempt, Failure? failure)
    {
        if (policy.MaximumAttempts == 1 || (policy.MaximumAttempts > 0 && attempt >= policy.MaximumAttempts))
        {
            return null;
        }

        if (failure?.ApplicationFailureInfo is { } app)
        {
            if (app.NonRetryable || policy.NonRetryableErrorTypes.Contains(app.Type))
            {
                return null;
            }

            if (Durations.Positive(app.NextRetryDelay) is { } explicitDelay)
            {
                return explicitDelay;
            }
        }

        var initial = Durations.Positive(policy.InitialInterval) ?? TimeSpan.FromSeconds(1);
        var coefficient = policy.BackoffCoefficient < 1 ? 2.0 : policy.BackoffCoefficient;
        var delay = initial * Math.Pow(coefficient, attempt - 1);
        if (Durations.Positive(policy.MaximumInterval) is { } max && delay > max)
        {
            delay = max;
        }

        return delay;
    }
}

internal static class Durations
{
    /// <summary>The duration when it is set and above zero; protobuf leaves unset durations null or zero.</summary>
    public static TimeSpan? Positive(Duration? d) => d is not null && d.ToTimeSpan() > TimeSpan.Zero ? d.ToTimeSpan() : null;
}
