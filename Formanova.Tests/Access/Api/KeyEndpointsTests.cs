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

    [Test]
    public async Task GetMe_WhenCalledWithAReadKey_ReturnsThatKeysIdNameAndScopes()
    {
        using var factory = new FormanovaFactory();
        using var admin = factory.CreateClient();
        var created = await (await admin.PostAsJsonAsync("/api/v1/keys", new { name = "reader", scopes = new[] { "read", "predict" } }))
            .Content.ReadFromJsonAsync<JsonElement>();
        using var reader = factory.CreateClient();
        reader.DefaultRequestHeaders.Authorization = new("Bearer", created.GetProperty("secret").GetString());

        var me = await reader.GetFromJsonAsync<JsonElement>("/api/v1/keys/me");

        Assert.That(me.GetProperty("id").GetString(), Is.EqualTo(created.GetProperty("key").GetProperty("id").GetString()));
        Assert.That(me.GetProperty("name").GetString(), Is.EqualTo("reader"));
        Assert.That(me.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()), Is.EquivalentTo(new[] { "read", "predict" }));
        Assert.That((await reader.GetAsync("/api/v1/keys")).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
    }

    [Test]
    public async Task GetMe_WhenTheKeyLacksTheReadScope_Returns403()
    {
        using var factory = new FormanovaFactory();
        using var admin = factory.CreateClient();
        var created = await (await admin.PostAsJsonAsync("/api/v1/keys", new { name = "scorer", scopes = new[] { "predict" } }))
            .Content.ReadFromJsonAsync<JsonElement>();
        using var scorer = factory.CreateClient();
        scorer.DefaultRequestHeaders.Authorization = new("Bearer", created.GetProperty("secret").GetString());

        using var response = await scorer.GetAsync("/api/v1/keys/me");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
    }
}
