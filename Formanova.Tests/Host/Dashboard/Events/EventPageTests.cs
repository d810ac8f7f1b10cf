using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Host.Dashboard;
using Formanova.Tests.Event;
using Formanova.Tests.Support;

namespace Formanova.Tests.Host.Dashboard.Events;

/// <summary>The events page on the real host: the tail and its filters, its live stream, and the webhook deliveries.</summary>
[Category("Integration")]
public sealed class EventPageTests
{
    private FormanovaFactory _factory = null!;
    private HttpClient _api = null!;

    [OneTimeSetUp]
    public void Start()
    {
        _factory = EventTestSupport.Factory(
        [
            new("Model:Bootstrap:Enabled", "false"),
            new("Dashboard:RefreshSeconds", "0.2"),
            new("Event:Webhooks:Dispatcher:Enabled", "true"),
        ]);
        _api = _factory.CreateClient();
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _api.Dispose();
        _factory.Dispose();
    }

    [Test]
    public async Task Events_WhenFilteredByTypeOrBySource_ShowTheMatchingOnesNewestFirst()
    {
        var shop = $"/shop-{Guid.NewGuid():N}";
        var first = await PublishAsync("ORDER_PLACED", $"{shop}/orders/1");
        var shipped = await PublishAsync("ORDER_SHIPPED", $"{shop}/orders/1");
        var second = await PublishAsync("ORDER_PLACED", $"{shop}/orders/2");
        var key = await DashboardClient.CreateKeyAsync(_factory, "events-read", "read");
        using var reader = await DashboardClient.SignedInAsync(_factory, key);

        var byType = await reader.GetStringAsync($"{DashboardPaths.Events}?type=ORDER_PLACED&source={Uri.EscapeDataString(shop)}");
        var bySource = await reader.GetStringAsync($"{DashboardPaths.Events}?source={Uri.EscapeDataString($"{shop}/orders/1")}");

        Assert.That(Rows(byType), Is.EqualTo(new[] { second, first }));
        Assert.That(Rows(bySource), Is.EqualTo(new[] { shipped, first }));
        Assert.That(byType, Does.Not.Contain("webhooks-heading"), "a read key sees no webhook deliveries");
    }

    [Test]
    public async Task LiveStream_WhenAnEventIsPublishedWhileItIsOpen_SendsAFragmentWithIt()
    {
        var source = $"/live-{Guid.NewGuid():N}";
        using var client = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);
        var stream = $"{DashboardPaths.Live}/events?source={Uri.EscapeDataString(source)}";
        using var request = new HttpRequestMessage(HttpMethod.Get, stream);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var before = await DashboardClient.FragmentAsync(reader);

        var sequence = await PublishAsync("ORDER_PLACED", source);
        string after;
        do
        {
            after = await DashboardClient.FragmentAsync(reader);
        }
        while (!after.Contains($"data-event=\"{sequence}\"", StringComparison.Ordinal));

        Assert.That(before, Does.Contain("No event matches the filter"));
        Assert.That(after, Does.Contain("ORDER_PLACED"));
    }

    [Test]
    public async Task Redeliver_WhenAnAdminPressesIt_PutsTheDeliveryBackToPendingWithItsAttemptsReset()
    {
        var type = $"PING_{Guid.NewGuid():N}".ToUpperInvariant();
        var hook = await _api.PostAsJsonAsync("/api/v1/events/webhooks", new
        {
            url = $"http://127.0.0.1:{LocalProcesses.FreePort()}/hook",
            eventTypes = new[] { type },
        });
        Assert.That(hook.StatusCode, Is.EqualTo(HttpStatusCode.Created), await hook.Content.ReadAsStringAsync());
        var webhookId = (await hook.Content.ReadFromJsonAsync<JsonObject>())!["webhook"]!["id"]!.GetValue<long>();
        await PublishAsync(type, "/pings/1");
        var dead = await EventTestSupport.EventuallyAsync(
            () => _api.GetFromJsonAsync<JsonArray>($"/api/v1/events/webhooks/{webhookId}/deliveries"),
            list => list is [JsonObject d] && d["status"]!.GetValue<string>() == "deadLettered",
            what: "the delivery to a closed port to be dead-lettered");
        var deliveryId = dead![0]!["id"]!.GetValue<long>();
        using var admin = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);
        var page = await admin.GetStringAsync(DashboardPaths.Events);

        var response = await DashboardClient.PostFormAsync(admin, DashboardPaths.Events, DashboardPaths.Redeliver(deliveryId));

        Assert.That(page, Does.Contain($"data-delivery=\"{deliveryId}\"").And.Contain("dead-lettered"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await admin.GetStringAsync(response.Headers.Location!.OriginalString), Does.Contain("Redelivery queued"));

        // Attempts restart from 1 once it is pending again: more attempts are recorded than one run of retries makes.
        await EventTestSupport.EventuallyAsync(
            () => _api.GetFromJsonAsync<JsonObject>($"/api/v1/events/deliveries/{deliveryId}"),
            d => d!["attempts"]!.AsArray().Count > 3,
            what: "the redelivered delivery to be attempted again");
    }

    [Test]
    public async Task Redeliver_WhenTheKeyIsNotAdmin_IsRefusedWith403()
    {
        var key = await DashboardClient.CreateKeyAsync(_factory, "events-write", "read", "write");
        using var writer = await DashboardClient.SignedInAsync(_factory, key);

        var response = await DashboardClient.PostFormAsync(writer, DashboardPaths.Events, DashboardPaths.Redeliver(1));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
    }

    private async Task<string> PublishAsync(string type, string source)
    {
        var response = await _api.PostAsJsonAsync("/api/v1/events", new { type, source, data = new { at = DateTime.UtcNow } });
        Assert.That(response.IsSuccessStatusCode, Is.True, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
    }

    private static List<string> Rows(string html) =>
        [.. System.Text.RegularExpressions.Regex.Matches(html, "data-event=\"(\\d+)\"").Select(m => m.Groups[1].Value)];
}
