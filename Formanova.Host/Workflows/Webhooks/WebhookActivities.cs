using Formanova.Host.Workflows.Common;
using Formanova.Modules.Event;
using Temporalio.Activities;

namespace Formanova.Host.Workflows.Webhooks;

internal sealed class WebhookActivities(IEventWebhooksModule webhooks)
{
    /// <summary>
    /// One attempt; idempotent by delivery id in the Event module (a delivered delivery is not sent twice). Module
    /// errors are mapped like every other step's, so a delivery that no longer exists is not retried.
    /// </summary>
    [Activity("attempt_webhook_delivery")]
    public Task<DeliveryAttemptResult> AttemptDeliveryAsync(long deliveryId) =>
        ActivityErrors.GuardAsync(() => webhooks.AttemptDeliveryAsync(deliveryId, ActivityExecutionContext.Current.CancellationToken));
}
