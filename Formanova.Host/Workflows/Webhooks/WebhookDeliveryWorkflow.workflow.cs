using Formanova.Modules.Event;
using Temporalio.Common;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Webhooks;

/// <summary>
/// One webhook delivery, durably: attempt, then sleep until the Event module's next attempt time, until delivered or
/// dead-lettered.
/// </summary>
public sealed record WebhookDeliveryInput(long DeliveryId);

public sealed record WebhookDeliveryOutcome(long DeliveryId, string Outcome, int Attempts, string? Reason);

/// <summary>
/// Runs the Event module's delivery attempt until it is delivered, permanently refused, or dead-lettered after
/// Event:Webhooks:MaxAttempts. The backoff between attempts is the module's (NextAttemptAt), slept as a durable
/// timer, so a restart neither loses nor repeats an attempt.
/// </summary>
[Workflow]
public sealed class WebhookDeliveryWorkflow
{
    private int _attempts;
    private string _state = "pending";

    [WorkflowQuery("get_delivery_state")]
    public string GetDeliveryState() => $"{_state} after {_attempts} attempt(s)";

    [WorkflowRun]
    public async Task<WebhookDeliveryOutcome> RunAsync(WebhookDeliveryInput input)
    {
        // The module counts attempts and dead-letters; Temporal retries only transport errors of the activity itself.
        var options = new ActivityOptions
        {
            StartToCloseTimeout = TimeSpan.FromMinutes(2),
            RetryPolicy = new RetryPolicy
            {
                InitialInterval = TimeSpan.FromSeconds(1),
                BackoffCoefficient = 2,
                MaximumInterval = TimeSpan.FromMinutes(1),
                MaximumAttempts = 10
            },
        };
        while (true)
        {
            var result = await Workflow.ExecuteActivityAsync((WebhookActivities a) => a.AttemptDeliveryAsync(input.DeliveryId), options);
            _attempts = result.Delivery?.Attempts ?? _attempts + 1;
            if (result.Outcome == DeliveryOutcome.Delivered || result.Outcome == DeliveryOutcome.PermanentFailure
                || result.Delivery is null || result.Delivery.Status != DeliveryStatus.Pending)
            {
                _state = result.Outcome == DeliveryOutcome.Delivered ? "delivered" : "dead-lettered";
                return new WebhookDeliveryOutcome(input.DeliveryId, _state, _attempts, result.Reason);
            }

            _state = "waiting";
            var wait = result.Delivery.NextAttemptAt.UtcDateTime - Workflow.UtcNow;
            if (wait > TimeSpan.Zero)
            {
                await Workflow.DelayAsync(wait);
            }
        }
    }
}
