using System.Security.Claims;
using Formanova.Host.Security;
using Formanova.Modules.Shared.Api;

namespace Formanova.Tests.Host.Security;

public sealed class ScopeRequirementTests
{
    private static ClaimsPrincipal Key(params string[] scopes) => new(new ApiKeyIdentity(
        [.. scopes.Select(s => new Claim(ApiScopes.ClaimType, s))], ApiKeyAuthenticationHandler.SchemeName, scopes));

    [TestCase("read", new[] { "read" }, true)]
    [TestCase("write", new[] { "read" }, false)]
    [TestCase("train", new[] { "admin" }, true)]
    [TestCase("predict", new string[0], false)]
    public void Grants_WhenTheKeysIdentityHoldsScopes_AnswersFromThem(string scope, string[] held, bool granted) =>
        Assert.That(ScopeRequirement.Grants(Key(held), scope), Is.EqualTo(granted));

    [Test]
    public void Grants_WhenTheCallerIsAnonymous_IsFalse() =>
        Assert.That(ScopeRequirement.Grants(new ClaimsPrincipal(new ClaimsIdentity()), ApiScopes.Read), Is.False);

    [Test]
    public void Grants_WhenAnotherIdentityCarriesTheScopeClaim_ReadsTheClaim()
    {
        var user = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ApiScopes.ClaimType, ApiScopes.Read)], "other"));

        Assert.Multiple(() =>
        {
            Assert.That(ScopeRequirement.Grants(user, ApiScopes.Read), Is.True);
            Assert.That(ScopeRequirement.Grants(user, ApiScopes.Write), Is.False);
        });
    }
}
