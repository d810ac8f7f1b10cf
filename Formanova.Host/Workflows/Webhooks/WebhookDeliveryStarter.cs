using Formanova.Host.Temporal;
using Formanova.Modules.Event;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Options;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;

namespace Formanova.Host.Workflows.Webhooks;

/// <summary>
/// Starts a WebhookDeliveryWorkflow for every due delivery. The workflow id is derived from the delivery id, so a
/// delivery already being handled is never started twice; one redelivered after it closed is started again.
/// Runs only when the Event module's own dispatcher is off.
/// </summary>
internal sealed class WebhookDeliveryStarter(
    IEventWebhooksModule webhooks,
    ITemporalClient client,
    IOptions<TemporalOptions> temporal,
    IOptions<WorkflowsOptions> workflows,
    ILogger<WebhookDeliveryStarter> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(workflows.Value.Webhooks.PollIntervalMilliseconds);
        using var timer = new PeriodicTimer(interval);
        do
        {
            try
            {
                await StartDueAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Starting webhook delivery workflows failed; retrying in {Interval}", interval);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>
    /// One pass. Listing the due deliveries is a poll and is not traced; starting a delivery's workflow is work, under
    /// a root span <c>StartWebhookDelivery</c>, so the delivery's activities form one trace (docs/observability.md).
    /// </summary>
    internal async Task StartDueAsync(CancellationToken stoppingToken)
    {
        IReadOnlyList<WebhookDelivery> due;
        using (BackgroundTracing.Quiet())
        {
            due = await webhooks.ListDueDeliveriesAsync(100, stoppingToken);
        }

        foreach (var delivery in due)
        {
            await BackgroundTracing.WorkAsync("StartWebhookDelivery", span =>
            {
                span?.SetTag("formanova.webhook.delivery.id", delivery.Id);
                return client.StartWorkflowAsync(
                    (WebhookDeliveryWorkflow wf) => wf.RunAsync(new WebhookDeliveryInput(delivery.Id)),
                    new WorkflowOptions($"webhook-delivery-{delivery.Id}", temporal.Value.TaskQueue)
                    {
                        IdReusePolicy = WorkflowIdReusePolicy.AllowDuplicate,
                        IdConflictPolicy = WorkflowIdConflictPolicy.UseExisting,
                    });
            });
        }
    }
}
