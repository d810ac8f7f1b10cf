using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Formanova.Modules.Access;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Access.Api;

[Category("Integration")]
public sealed class KeyEndpointsTests
{
    [Test]
    public async Task Revoke_WhenTheKeyIsTheLastAdmin_Returns409AndTheKeyKeepsWorking()
    {
        using var factory = new FormanovaFactory();
        using var client = factory.CreateClient();
        var own = (await factory.Services.GetRequiredService<IAccessModule>().ListKeysAsync()).Single();

        using var response = await client.DeleteAsync($"/api/v1/keys/{own.Id}");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(
            problem.GetProperty("detail").GetString(),
            Does.Contain("last active admin key").And.Contain("Create another admin key first"));
        Assert.That((await client.GetAsync("/api/v1/keys")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Revoke_WhenAnotherAdminExists_RevokesTheCallersOwnKey()
    {
        using var factory = new FormanovaFactory();
        using var client = factory.CreateClient();
        var own = (await factory.Services.GetRequiredService<IAccessModule>().ListKeysAsync()).Single();
        var created = await client.PostAsJsonAsync("/api/v1/keys", new { name = "second admin", scopes = new[] { "admin" } });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));

        using var response = await client.DeleteAsync($"/api/v1/keys/{own.Id}");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await client.GetAsync("/api/v1/keys")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }
}
