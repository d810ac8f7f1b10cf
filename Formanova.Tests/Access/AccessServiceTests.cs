using Dapper;
using Formanova.Modules.Access;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;
using Formanova.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Formanova.Tests.Access;

[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class AccessServiceTests(DatabaseProvider provider)
{
    private TestDatabase _db = null!;
    private FakeTimeProvider _clock = null!;
    private AccessService _access = null!;

    [SetUp]
    public async Task SetUp()
    {
        _db = await TestDatabase.CreateAsync(provider);
        await new Migrator(
            _db.Database,
            [MigrationSet.FromEmbeddedResources("access", typeof(IAccessModule).Assembly, "Access/Migrations")],
            TimeProvider.System,
            NullLogger<Migrator>.Instance).MigrateAsync();
        _clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        _access = new AccessService(_db.Database, _clock, Options.Create(new AccessOptions { CacheSeconds = 30 }));
    }

    [TearDown]
    public async Task TearDown()
    {
        _access.Dispose();
        await _db.DisposeAsync();
    }

    [Test]
    public async Task AuthenticateAsync_WhenKeyWasCreated_ReturnsItsScopes()
    {
        var created = await _access.CreateKeyAsync(new CreateApiKeyRequest("ci", [ApiScopes.Read, ApiScopes.Predict]));

        var key = await _access.AuthenticateAsync(created.Secret);

        Assert.That(key, Is.Not.Null);
        Assert.That(key!.Id, Is.EqualTo(created.Key.Id));
        Assert.That(key.Scopes, Is.EquivalentTo(new[] { ApiScopes.Read, ApiScopes.Predict }));
    }

    [Test]
    public async Task AuthenticateAsync_WhenKeyIsWrongByOneCharacter_ReturnsNull()
    {
        var created = await _access.CreateKeyAsync(new CreateApiKeyRequest("ci", [ApiScopes.Read]));
        var tampered = created.Secret[..^1] + (created.Secret[^1] == 'a' ? 'b' : 'a');

        Assert.That(await _access.AuthenticateAsync(tampered), Is.Null);
        Assert.That(await _access.AuthenticateAsync(""), Is.Null);
        Assert.That(await _access.AuthenticateAsync(new string('x', 10_000)), Is.Null);
    }

    [Test]
    public async Task AuthenticateAsync_WhenKeyWasRevoked_ReturnsNullEvenIfCached()
    {
        var created = await _access.CreateKeyAsync(new CreateApiKeyRequest("ci", [ApiScopes.Read]));
        Assert.That(await _access.AuthenticateAsync(created.Secret), Is.Not.Null);

        var revoked = await _access.RevokeKeyAsync(created.Key.Id);

        Assert.That(revoked.Revoked, Is.True);
        Assert.That(await _access.AuthenticateAsync(created.Secret), Is.Null);
    }

    [Test]
    public async Task AuthenticateAsync_WhenKeyHasExpired_ReturnsNullEvenIfCached()
    {
        var created = await _access.CreateKeyAsync(new CreateApiKeyRequest("ci", [ApiScopes.Read], _clock.GetUtcNow().AddMinutes(10)));
        Assert.That(await _access.AuthenticateAsync(created.Secret), Is.Not.Null);

        _clock.Advance(TimeSpan.FromMinutes(11));

        Assert.That(await _access.AuthenticateAsync(created.Secret), Is.Null);
    }

    [Test]
    public async Task ListKeysAsync_WhenKeysExist_NeverIncludesSecretsAndRecordsLastUse()
    {
        var created = await _access.CreateKeyAsync(new CreateApiKeyRequest("ci", [ApiScopes.Write]));
        await _access.AuthenticateAsync(created.Secret);

        var keys = await _access.ListKeysAsync();

        Assert.That(keys, Has.Count.EqualTo(1));
        Assert.That(keys[0].LastUsedAt, Is.EqualTo(_clock.GetUtcNow()));
        Assert.That(keys[0].ToString(), Does.Not.Contain(created.Secret));
    }

    [Test]
    public async Task GetKeyAsync_WhenKeyWasRevokedAfterAnAuthentication_SaysSoAtOnce()
    {
        var created = await _access.CreateKeyAsync(new CreateApiKeyRequest("ui", [ApiScopes.Read], _clock.GetUtcNow().AddHours(1)));
        Assert.That(await _access.AuthenticateAsync(created.Secret), Is.Not.Null);

        var before = await _access.GetKeyAsync(created.Key.Id);
        await _access.RevokeKeyAsync(created.Key.Id);
        var after = await _access.GetKeyAsync(created.Key.Id);

        Assert.That(before, Is.Not.Null);
        Assert.That(before!.Revoked, Is.False);
        Assert.That(before.Scopes, Is.EqualTo(new[] { ApiScopes.Read }));
        Assert.That(before.ExpiresAt, Is.EqualTo(_clock.GetUtcNow().AddHours(1)));
        Assert.That(after!.Revoked, Is.True);
        Assert.That(await _access.GetKeyAsync("key_missing"), Is.Null);
    }

    [Test]
    public void RevokeKeyAsync_WhenKeyIsUnknown_ThrowsNotFound()
    {
        Assert.That(async () => await _access.RevokeKeyAsync("key_missing"),
            Throws.TypeOf<ModuleException>().With.Property("Kind").EqualTo(ErrorKind.NotFound));
    }

    [Test]
    public async Task RevokeKeyAsync_WhenKeyIsTheLastActiveAdmin_ThrowsConflictAndTheKeyKeepsWorking()
    {
        var admin = await _access.CreateKeyAsync(new CreateApiKeyRequest("only admin", [ApiScopes.Admin]));
        await _access.CreateKeyAsync(new CreateApiKeyRequest("reader", [ApiScopes.Read]));

        var thrown = Assert.ThrowsAsync<ModuleException>(async () => await _access.RevokeKeyAsync(admin.Key.Id));

        Assert.That(thrown!.Kind, Is.EqualTo(ErrorKind.Conflict));
        Assert.That(thrown.Message, Does.Contain("last active admin key"));
        Assert.That(await _access.AuthenticateAsync(admin.Secret), Is.Not.Null);
    }

    [Test]
    public async Task RevokeKeyAsync_WhenAnotherAdminIsActive_RevokesIt()
    {
        var first = await _access.CreateKeyAsync(new CreateApiKeyRequest("first", [ApiScopes.Admin]));
        await _access.CreateKeyAsync(new CreateApiKeyRequest("second", [ApiScopes.Read, ApiScopes.Admin]));

        var revoked = await _access.RevokeKeyAsync(first.Key.Id);

        Assert.That(revoked.Revoked, Is.True);
        Assert.That(await _access.AuthenticateAsync(first.Secret), Is.Null);
    }

    [Test]
    public async Task RevokeKeyAsync_WhenTheOnlyOtherAdminHasExpired_ThrowsConflict()
    {
        var admin = await _access.CreateKeyAsync(new CreateApiKeyRequest("admin", [ApiScopes.Admin]));
        await _access.CreateKeyAsync(new CreateApiKeyRequest("temporary admin", [ApiScopes.Admin], _clock.GetUtcNow().AddMinutes(5)));
        _clock.Advance(TimeSpan.FromMinutes(6));

        Assert.That(async () => await _access.RevokeKeyAsync(admin.Key.Id),
            Throws.TypeOf<ModuleException>().With.Property("Kind").EqualTo(ErrorKind.Conflict));
    }

    [Test]
    public async Task RevokeKeyAsync_WhenKeyIsNotAnAdmin_RevokesItEvenWithNoAdminLeft()
    {
        var reader = await _access.CreateKeyAsync(new CreateApiKeyRequest("reader", [ApiScopes.Read]));

        var revoked = await _access.RevokeKeyAsync(reader.Key.Id);

        Assert.That(revoked.Revoked, Is.True);
        Assert.That(await _access.RevokeKeyAsync(reader.Key.Id), Has.Property("Revoked").True, "revoking twice stays harmless");
    }

    [Test]
    public async Task RevokeKeyAsync_WhenTwoAdminsRevokeEachOtherAtOnce_OneAdminAlwaysRemains()
    {
        // Each round starts with exactly two active admins and revokes both at once; without an atomic check both
        // revocations see the other admin still active and succeed.
        var survivor = (await _access.CreateKeyAsync(new CreateApiKeyRequest("admin-0", [ApiScopes.Admin]))).Key.Id;
        for (var round = 1; round <= 30; round++)
        {
            var other = (await _access.CreateKeyAsync(new CreateApiKeyRequest($"admin-{round}", [ApiScopes.Admin]))).Key.Id;
            using var start = new ManualResetEventSlim();
            var revokes = new[] { survivor, other }.Select(id => Task.Run(async () =>
            {
                start.Wait();
                try
                {
                    await _access.RevokeKeyAsync(id);
                    return (Id: id, Revoked: true);
                }
                catch (ModuleException ex) when (ex.Kind == ErrorKind.Conflict)
                {
                    return (Id: id, Revoked: false);
                }
            })).ToList();
            start.Set();
            var outcomes = await Task.WhenAll(revokes);

            Assert.That(outcomes.Count(o => o.Revoked), Is.EqualTo(1), $"round {round}: exactly one of two admins can go");
            survivor = outcomes.Single(o => !o.Revoked).Id;
        }

        var active = (await _access.ListKeysAsync()).Where(k => !k.Revoked && k.Scopes.Contains(ApiScopes.Admin)).ToList();
        Assert.That(active.Select(k => k.Id), Is.EqualTo(new[] { survivor }));
    }

    [Test]
    public async Task EnsureBootstrapKeyAsync_WhenStoreIsEmpty_GeneratesAnAdminKeyOnce()
    {
        var generated = await _access.EnsureBootstrapKeyAsync(null);
        var again = await _access.EnsureBootstrapKeyAsync(null);

        Assert.That(generated.Outcome, Is.EqualTo(BootstrapOutcome.Generated));
        Assert.That(generated.GeneratedSecret, Does.StartWith("fnv_"));
        Assert.That(again.Outcome, Is.EqualTo(BootstrapOutcome.AdminExists));
        Assert.That(again.GeneratedSecret, Is.Null);
        Assert.That((await _access.AuthenticateAsync(generated.GeneratedSecret!))!.Scopes, Is.EqualTo(new[] { ApiScopes.Admin }));
        Assert.That(await _access.ListKeysAsync(), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task EnsureBootstrapKeyAsync_WhenKeyIsConfigured_InstallsItWithoutPrintingOne()
    {
        const string configured = "configured-bootstrap-key-with-enough-entropy";

        var result = await _access.EnsureBootstrapKeyAsync(configured);

        Assert.That(result.Outcome, Is.EqualTo(BootstrapOutcome.Installed));
        Assert.That(result.GeneratedSecret, Is.Null);
        Assert.That(await _access.AuthenticateAsync(configured), Is.Not.Null);
    }

    [Test]
    public async Task EnsureBootstrapKeyAsync_WhenAnAdminIsActive_IgnoresTheConfiguredKey()
    {
        await _access.CreateKeyAsync(new CreateApiKeyRequest("admin", [ApiScopes.Admin]));

        var result = await _access.EnsureBootstrapKeyAsync(RecoveryKey);

        Assert.That(result.Outcome, Is.EqualTo(BootstrapOutcome.AdminExists));
        Assert.That(await _access.AuthenticateAsync(RecoveryKey), Is.Null);
    }

    [Test]
    public async Task EnsureBootstrapKeyAsync_WhenEveryAdminKeyHasExpired_InstallsTheConfiguredKey()
    {
        await _access.CreateKeyAsync(new CreateApiKeyRequest("temporary admin", [ApiScopes.Admin], _clock.GetUtcNow().AddHours(1)));
        await _access.CreateKeyAsync(new CreateApiKeyRequest("reader", [ApiScopes.Read]));
        _clock.Advance(TimeSpan.FromHours(2));

        var result = await _access.EnsureBootstrapKeyAsync(RecoveryKey);

        Assert.That(result.Outcome, Is.EqualTo(BootstrapOutcome.Recovered));
        Assert.That(result.KeyCount, Is.EqualTo(2));
        var key = await _access.AuthenticateAsync(RecoveryKey);
        Assert.That(key?.Id, Is.EqualTo(result.KeyId));
        Assert.That(key!.Scopes, Is.EqualTo(new[] { ApiScopes.Admin }));
    }

    [Test]
    public async Task EnsureBootstrapKeyAsync_WhenTheLastAdminWasRevokedBeforeTheRule_InstallsTheConfiguredKey()
    {
        var admin = await _access.CreateKeyAsync(new CreateApiKeyRequest("admin", [ApiScopes.Admin]));
        await RevokeDirectlyAsync(admin.Key.Id);

        var result = await _access.EnsureBootstrapKeyAsync(RecoveryKey);

        Assert.That(result.Outcome, Is.EqualTo(BootstrapOutcome.Recovered));
        Assert.That(await _access.AuthenticateAsync(RecoveryKey), Is.Not.Null);
        Assert.That(
            (await _access.EnsureBootstrapKeyAsync(RecoveryKey)).Outcome,
            Is.EqualTo(BootstrapOutcome.AdminExists),
            "installed once");
        Assert.That(await _access.ListKeysAsync(), Has.Count.EqualTo(2));
    }

    [Test]
    public async Task EnsureBootstrapKeyAsync_WhenNoAdminIsActiveAndNoKeyIsConfigured_GeneratesNone()
    {
        var admin = await _access.CreateKeyAsync(new CreateApiKeyRequest("admin", [ApiScopes.Admin]));
        await RevokeDirectlyAsync(admin.Key.Id);

        var result = await _access.EnsureBootstrapKeyAsync(null);

        Assert.That(result.Outcome, Is.EqualTo(BootstrapOutcome.NoActiveAdmin));
        Assert.That(result.GeneratedSecret, Is.Null);
        Assert.That(await _access.ListKeysAsync(), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task EnsureBootstrapKeyAsync_WhenTheConfiguredKeyWasRevoked_DoesNotReinstateIt()
    {
        await _access.EnsureBootstrapKeyAsync(RecoveryKey);
        var bootstrap = (await _access.ListKeysAsync()).Single();
        await RevokeDirectlyAsync(bootstrap.Id);

        var result = await _access.EnsureBootstrapKeyAsync(RecoveryKey);

        Assert.That(result.Outcome, Is.EqualTo(BootstrapOutcome.ConfiguredKeyRevoked));
        Assert.That(await _access.AuthenticateAsync(RecoveryKey), Is.Null);
        Assert.That(await _access.ListKeysAsync(), Has.Count.EqualTo(1));
    }

    private const string RecoveryKey = "recovery-bootstrap-key-with-enough-entropy";

    /// <summary>The state an instance could reach before the last-admin rule: every admin revoked.</summary>
    private async Task RevokeDirectlyAsync(string id)
    {
        await using var connection = await _db.Database.OpenConnectionAsync();
        await connection.ExecuteAsync("UPDATE access_api_keys SET revoked_at = @now WHERE id = @id", new { id, now = _clock.GetUtcNow() });
    }
}
