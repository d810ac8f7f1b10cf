using System.Security.Claims;
using Formanova.Host.Dashboard;
using Formanova.Host.Dashboard.Access;
using Formanova.Host.Security;
using Formanova.Modules.Access;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Formanova.Tests.Host.Dashboard.Access;

/// <summary>The session's own checks, run on each request by the cookie handler: its end, and the re-check of its key.</summary>
public sealed class DashboardSessionTests
{
    private FakeTimeProvider _clock = null!;
    private StubAccess _access = null!;

    [SetUp]
    public void SetUp()
    {
        _clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        _access = new StubAccess();
    }

    [Test]
    public async Task ValidateAsync_WhenTheKeyWasRevokedAndTheRecheckIsDue_RejectsTheSession()
    {
        var session = Session(new DashboardOptions { KeyRecheckSeconds = 30 });
        var ticket = Open(session);
        _access.Key = _access.Key! with { Revoked = true };

        _clock.Advance(TimeSpan.FromSeconds(29));
        var early = await ValidateAsync(session, ticket);
        _clock.Advance(TimeSpan.FromSeconds(2));
        var due = await ValidateAsync(session, ticket);

        Assert.That(early.Principal, Is.Not.Null, "re-checked before it was due");
        Assert.That(_access.Lookups, Is.EqualTo(1));
        Assert.That(due.Principal, Is.Null);
    }

    [Test]
    public async Task ValidateAsync_WhenTheRecheckFindsTheKeyStanding_RenewsTheSessionAndWaitsAgain()
    {
        var session = Session(new DashboardOptions { KeyRecheckSeconds = 30 });
        var ticket = Open(session);

        _clock.Advance(TimeSpan.FromSeconds(31));
        var renewed = await ValidateAsync(session, ticket);
        _clock.Advance(TimeSpan.FromSeconds(20));
        var next = await ValidateAsync(session, renewed.Properties);

        Assert.That(renewed.Principal, Is.Not.Null);
        Assert.That(renewed.ShouldRenew, Is.True);
        Assert.That(next.Principal, Is.Not.Null);
        Assert.That(_access.Lookups, Is.EqualTo(1), "the renewed session re-checked again within 30 s");
    }

    [Test]
    public async Task ValidateAsync_WhenTheKeyHasExpiredSince_RejectsTheSession()
    {
        var session = Session(new DashboardOptions { KeyRecheckSeconds = 0 });
        _access.Key = _access.Key! with { ExpiresAt = _clock.GetUtcNow().AddMinutes(5) };
        var ticket = Open(session);

        _clock.Advance(TimeSpan.FromMinutes(6));

        Assert.That((await ValidateAsync(session, ticket)).Principal, Is.Null);
    }

    [Test]
    public async Task ValidateAsync_WhenTheExpiryIsAbsolute_EndsTheSessionThatLongAfterTheSignInHoweverOftenItWasRenewed()
    {
        var session = Session(new DashboardOptions { SessionMinutes = 10, SlidingExpiration = false, KeyRecheckSeconds = 60 });
        var properties = Open(session);

        for (var minute = 0; minute < 9; minute++)
        {
            _clock.Advance(TimeSpan.FromMinutes(1));
            var context = await ValidateAsync(session, properties);
            Assert.That(context.Principal, Is.Not.Null, $"ended after {minute + 1} min");
            properties = context.Properties;
        }

        _clock.Advance(TimeSpan.FromMinutes(1));

        Assert.That((await ValidateAsync(session, properties)).Principal, Is.Null);
    }

    [Test]
    public async Task ValidateAsync_WhenTheExpiryIsSliding_LeavesTheEndToTheCookieLifetime()
    {
        var session = Session(new DashboardOptions { SessionMinutes = 10, SlidingExpiration = true, KeyRecheckSeconds = 60 });
        var properties = Open(session);

        _clock.Advance(TimeSpan.FromMinutes(30));

        Assert.That((await ValidateAsync(session, properties)).Principal, Is.Not.Null);
    }

    [Test]
    public void Open_WhenGivenAKey_CarriesItsIdNameAndScopesButNotTheSecret()
    {
        var session = Session(new DashboardOptions());

        var (principal, properties) = session.Open(new AuthenticatedKey("key_1", "ops", [ApiScopes.Read, ApiScopes.Write]), null);

        Assert.That(principal.FindFirstValue(ClaimTypes.NameIdentifier), Is.EqualTo("key_1"));
        Assert.That(principal.FindFirstValue(ClaimTypes.Name), Is.EqualTo("ops"));
        Assert.That(
            principal.FindAll(ApiKeyAuthenticationHandler.ScopeClaim).Select(c => c.Value),
            Is.EquivalentTo(new[] { ApiScopes.Read, ApiScopes.Write }));
        Assert.That(principal.Claims.Select(c => c.Value).Concat(properties.Items.Values), Has.None.StartsWith("fnv_"));
    }

    private DashboardSession Session(DashboardOptions options) =>
        new(_access, Options.Create(options), Options.Create(new AuthOptions()), _clock);

    private AuthenticationProperties Open(DashboardSession session) =>
        session.Open(new AuthenticatedKey(_access.Key!.Id, _access.Key.Name, _access.Key.Scopes), _access.Key.ExpiresAt).Properties;

    private async Task<CookieValidatePrincipalContext> ValidateAsync(DashboardSession session, AuthenticationProperties properties)
    {
        var services = new ServiceCollection().AddLogging().AddSingleton<TimeProvider>(_clock);
        services.AddAuthentication().AddCookie(DashboardSession.Scheme);
        var http = new DefaultHttpContext { RequestServices = services.BuildServiceProvider() };
        var principal = session.Open(new AuthenticatedKey(_access.Key!.Id, _access.Key.Name, _access.Key.Scopes), null).Principal;
        var scheme = new AuthenticationScheme(DashboardSession.Scheme, null, typeof(CookieAuthenticationHandler));
        var context = new CookieValidatePrincipalContext(
            http,
            scheme,
            new CookieAuthenticationOptions(),
            new AuthenticationTicket(
                principal,
                new AuthenticationProperties(new Dictionary<string, string?>(properties.Items)),
                scheme.Name));
        await session.ValidateAsync(context);
        return context;
    }

    /// <summary>The store's answer for one key, and how often it was asked.</summary>
    private sealed class StubAccess : IAccessModule
    {
        public ApiKeyInfo? Key { get; set; } = new(
            "key_1", "ops", [ApiScopes.Read], DateTimeOffset.UnixEpoch, null, null, false);

        public int Lookups { get; private set; }

        public Task<ApiKeyInfo?> GetKeyAsync(string id, CancellationToken cancellationToken = default)
        {
            Lookups++;
            return Task.FromResult(Key?.Id == id ? Key : null);
        }

        public Task<ApiKeyCreated> CreateKeyAsync(CreateApiKeyRequest request, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task<IReadOnlyList<ApiKeyInfo>> ListKeysAsync(CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task<ApiKeyInfo> RevokeKeyAsync(string id, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task<AuthenticatedKey?> AuthenticateAsync(string presentedKey, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task<BootstrapResult> EnsureBootstrapKeyAsync(string? configuredKey, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();
    }
}
