using Formanova.Modules.Access;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Database;
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
        await new Migrator(_db.Database, [MigrationSet.FromEmbeddedResources("access", typeof(IAccessModule).Assembly, "Access/Migrations")], TimeProvider.System, NullLogger<Migrator>.Instance).MigrateAsync();
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
    public void RevokeKeyAsync_WhenKeyIsUnknown_ThrowsNotFound()
    {
        Assert.That(async () => await _access.RevokeKeyAsync("key_missing"),
            Throws.TypeOf<Formanova.Modules.Shared.Errors.ModuleException>().With.Property("Kind").EqualTo(Formanova.Modules.Shared.Errors.ErrorKind.NotFound));
    }

    [Test]
    public async Task EnsureBootstrapKeyAsync_WhenStoreIsEmpty_GeneratesAnAdminKeyOnce()
    {
        var secret = await _access.EnsureBootstrapKeyAsync(null);
        var again = await _access.EnsureBootstrapKeyAsync(null);

        Assert.That(secret, Does.StartWith("fnv_"));
        Assert.That(again, Is.Null);
        Assert.That((await _access.AuthenticateAsync(secret!))!.Scopes, Is.EqualTo(new[] { ApiScopes.Admin }));
        Assert.That(await _access.ListKeysAsync(), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task EnsureBootstrapKeyAsync_WhenKeyIsConfigured_InstallsItWithoutPrintingOne()
    {
        const string configured = "configured-bootstrap-key-with-enough-entropy";

        var generated = await _access.EnsureBootstrapKeyAsync(configured);

        Assert.That(generated, Is.Null);
        Assert.That(await _access.AuthenticateAsync(configured), Is.Not.Null);
    }
}
