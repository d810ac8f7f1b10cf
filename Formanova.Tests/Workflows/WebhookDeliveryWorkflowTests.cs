using System.Net;
using System.Net.Http.Json;
using Formanova.Modules.Event;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Temporalio.Client;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

[Category("Integration")]
public sealed class WebhookDeliveryWorkflowTests
{
    [Test]
    public async Task Deliveries_WhenTheDispatcherIsOff_RunAsDurableWorkflowsThatRetryUntilDelivered()
    {
        var calls = 0;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var receiver = builder.Build();
        receiver.MapPost("/hook", () => Interlocked.Increment(ref calls) == 1 ? Results.StatusCode(500) : Results.Ok());
        await receiver.StartAsync();

        using var factory = Factory(null,
            ("Event:Webhooks:Dispatcher:Enabled", "false"),
            ("Event:Webhooks:AllowLoopback", "true"),
            ("Event:Webhooks:BackoffBaseMilliseconds", "100"),
            ("Event:Webhooks:FanOutIntervalMilliseconds", "100"),
            ("Workflows:Webhooks:PollIntervalMilliseconds", "100"));
        var client = await ClientAsync(factory);
        var webhooks = factory.Services.GetRequiredService<IEventWebhooksModule>();
        var hook = await webhooks.CreateWebhookAsync(
            new CreateWebhookRequest($"{receiver.Urls.First()}/hook", [IEventModule.WorkflowCompleted]));

        var prediction = await client.PostAsJsonAsync("/api/v1/predictions", Body());
        Assert.That(prediction.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        WebhookDelivery? delivered = null;
        await UntilAsync(async () =>
        {
            var list = await webhooks.ListDeliveriesAsync(hook.Webhook.Id, DeliveryStatus.Delivered, 10);
            delivered = list.Count > 0 ? list[0] : null;
            return delivered is not null;
        }, TimeSpan.FromSeconds(60), "the webhook delivery");
        Assert.That(delivered!.Attempts, Is.EqualTo(2), "a 500 first, then delivered");
        Assert.That(calls, Is.EqualTo(2));

        var temporal = factory.Services.GetRequiredService<ITemporalClient>();
        var run = await temporal.GetWorkflowHandle($"webhook-delivery-{delivered.Id}").DescribeAsync();
        Assert.That(run.WorkflowType, Is.EqualTo("WebhookDeliveryWorkflow"));
        await UntilAsync(async () => (await temporal.GetWorkflowHandle($"webhook-delivery-{delivered.Id}").DescribeAsync())
            .Status == Temporalio.Api.Enums.V1.WorkflowExecutionStatus.Completed,
            TimeSpan.FromSeconds(30), "the delivery workflow to complete");
    }
}
