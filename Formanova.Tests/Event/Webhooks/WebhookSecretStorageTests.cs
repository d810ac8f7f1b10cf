using Dapper;
using Formanova.Modules.Event;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Event.Webhooks;

[Category("Integration")]
public sealed class WebhookSecretStorageTests
{
    [Test]
    public async Task CreateWebhookAsync_WhenStored_KeepsTheSecretEncryptedAtRest()
    {
        using var factory = new FormanovaFactory(
            [new("Event:Webhooks:AllowLoopback", "true"), new("Event:Webhooks:Dispatcher:Enabled", "false")]);
        var webhooks = factory.Services.GetRequiredService<IEventWebhooksModule>();
        const string secret = "a-very-recognisable-signing-secret";

        var created = await webhooks.CreateWebhookAsync(
            new CreateWebhookRequest("http://127.0.0.1:9/hook", [IEventModule.AllEventTypes], Secret: secret));

        await using var connection = await factory.Services.GetRequiredService<IDatabase>().OpenConnectionAsync();
        var stored = await connection.ExecuteScalarAsync<string>(
            "SELECT secret FROM event_webhooks WHERE id = @Id",
            new { created.Webhook.Id });
        Assert.That(created.Secret, Is.EqualTo(secret));
        Assert.That(stored, Is.Not.Null.And.Not.Empty);
        Assert.That(stored, Does.Not.Contain(secret));
    }
}
