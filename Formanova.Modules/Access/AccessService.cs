using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Access;

/// <summary>
/// Keys are 256-bit random secrets, so a salted SHA-256 is enough (no slow KDF needed): the store keeps the salt
/// and hash, plus a short unsalted lookup prefix so a presented key finds its row without a scan.
/// </summary>
internal sealed class AccessService : IAccessModule, IDisposable
{
    private const string KeyPrefix = "fnv_";
    private const int MaxPresentedLength = 512;

    private const string Columns = "id, lookup, name, salt, hash, scopes, created_at, expires_at";

    private const string InsertKey
        = $"INSERT INTO access_api_keys ({Columns}) VALUES (@Id, @Lookup, @Name, @Salt, @Hash, @Scopes, @CreatedAt, @ExpiresAt)";

    /// <summary>Inserts only while no active admin exists, so instances starting together install one bootstrap key.</summary>
    private static readonly string InsertBootstrapKey = $"""
        INSERT INTO access_api_keys ({Columns})
        SELECT @Id, @Lookup, @Name, @Salt, @Hash, @Scopes, @CreatedAt, @ExpiresAt
        WHERE NOT EXISTS (SELECT 1 FROM access_api_keys a WHERE {ActiveAdmin("a", "@Now")})
        """;

    private const string SelectKeys = """
        SELECT id, name, scopes, created_at, last_used_at, expires_at, revoked_at
        FROM access_api_keys ORDER BY created_at DESC, id
        """;

    private const string SelectKey = """
        SELECT id, name, scopes, created_at, last_used_at, expires_at, revoked_at
        FROM access_api_keys WHERE id = @id
        """;

    private const string SelectByLookup = """
        SELECT id, name, salt, hash, scopes, created_at, last_used_at, expires_at, revoked_at
        FROM access_api_keys WHERE lookup = @lookup
        """;

    /// <summary>
    /// Revokes unless the key is the last active admin, in one statement. SQLite runs a write statement under its
    /// single write lock on the newest snapshot, so the check and the update cannot interleave with another revoke.
    /// </summary>
    private static readonly string RevokeKeySqlite = $"""
        UPDATE access_api_keys SET revoked_at = @now
        WHERE id = @id AND revoked_at IS NULL
          AND NOT ({ActiveAdmin("access_api_keys")}
                   AND NOT EXISTS (SELECT 1 FROM access_api_keys o WHERE o.id <> @id AND {ActiveAdmin("o")}))
        """;

    /// <summary>
    /// PostgreSQL: two revokes of different admin rows under READ COMMITTED would each see the other admin still
    /// active. Locking every active admin row first (in id order, so two revokes cannot deadlock) makes the second
    /// wait, then re-read the rows the first changed, and see it is now the last one.
    /// </summary>
    private static readonly string RevokeKeyPostgres = $"""
        WITH admins AS (SELECT id FROM access_api_keys a WHERE {ActiveAdmin("a")} ORDER BY id FOR UPDATE)
        UPDATE access_api_keys SET revoked_at = @now
        WHERE id = @id AND revoked_at IS NULL
          AND (NOT EXISTS (SELECT 1 FROM admins WHERE admins.id = @id) OR (SELECT COUNT(*) FROM admins) > 1)
        """;

    private const string TouchKey = "UPDATE access_api_keys SET last_used_at = @now WHERE id = @id";

    private static readonly string CountKeys = $"""
        SELECT COUNT(*) AS Keys, COALESCE(SUM(CASE WHEN {ActiveAdmin("a")} THEN 1 ELSE 0 END), 0) AS Admins
        FROM access_api_keys a
        """;

    private readonly IDatabase _database;
    private readonly TimeProvider _clock;
    private readonly AccessOptions _options;
    private readonly MemoryCache _verified = new(new MemoryCacheOptions { SizeLimit = 10_000 });
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastTouched = new();
    private readonly ConcurrentDictionary<string, byte> _revokedHere = new();

    public AccessService(IDatabase database, TimeProvider clock, IOptions<AccessOptions> options)
    {
        _database = database;
        _clock = clock;
        _options = options.Value;
    }

    public async Task<ApiKeyCreated> CreateKeyAsync(CreateApiKeyRequest request, CancellationToken cancellationToken = default)
    {
        var secret = KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var info = await InsertAsync(request.Name, request.Scopes, request.ExpiresAt, secret, cancellationToken);
        return new ApiKeyCreated(info, secret);
    }

    public async Task<IReadOnlyList<ApiKeyInfo>> ListKeysAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<KeyRow>(new CommandDefinition(SelectKeys, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToInfo()).ToList();
    }

    public async Task<ApiKeyInfo> RevokeKeyAsync(string id, CancellationToken cancellationToken = default)
    {
        var sql = _database.Dialect.Provider == DatabaseProvider.Postgres ? RevokeKeyPostgres : RevokeKeySqlite;
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(
            new CommandDefinition(sql, new { id, now = _clock.GetUtcNow() }, cancellationToken: cancellationToken));
        var row = await connection.QuerySingleOrDefaultAsync<KeyRow>(
            new CommandDefinition(SelectKey, new { id }, cancellationToken: cancellationToken))
            ?? throw ModuleException.NotFound("API key", id);
        if (row.RevokedAt is null)
        {
            // The statement left an existing, unrevoked key alone: only the last-admin rule does that.
            throw new ModuleException(ErrorKind.Conflict,
                $"API key '{id}' is the last active admin key; revoking it would leave no key that can manage keys. Create another admin " +
                $"key first, then revoke this one.");
        }

        _revokedHere[id] = 0;
        return row.ToInfo();
    }

    public async Task<AuthenticatedKey?> AuthenticateAsync(string presentedKey, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(presentedKey) || presentedKey.Length > MaxPresentedLength)
        {
            return null;
        }

        var now = _clock.GetUtcNow();
        var fingerprint = Fingerprint(presentedKey);
        if (_verified.TryGetValue(fingerprint, out CachedKey? cached) && cached is not null
            && !_revokedHere.ContainsKey(cached.Key.Id) && (cached.ExpiresAt is null || cached.ExpiresAt > now))
        {
            return cached.Key;
        }

        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        if (await FindAsync(connection, presentedKey, cancellationToken) is not { } row
            || row.RevokedAt is not null || (row.ExpiresAt is { } expires && expires <= now))
        {
            return null;
        }

        var key = new AuthenticatedKey(row.Id, row.Name, SplitScopes(row.Scopes));
        if (_options.CacheSeconds > 0)
        {
            _verified.Set(fingerprint, new CachedKey(key, row.ExpiresAt), new MemoryCacheEntryOptions
            {
                Size = 1,
                AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(_options.CacheSeconds),
            });
        }

        await TouchAsync(connection, row.Id, now, cancellationToken);
        return key;
    }

    public async Task<ApiKeyInfo?> GetKeyAsync(string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<KeyRow>(
            new CommandDefinition(SelectKey, new { id }, cancellationToken: cancellationToken));
        return row?.ToInfo();
    }

    public async Task<BootstrapResult> EnsureBootstrapKeyAsync(string? configuredKey, CancellationToken cancellationToken = default)
    {
        var now = _clock.GetUtcNow();
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        var counts = await connection.QuerySingleAsync<StoreCounts>(
            new CommandDefinition(CountKeys, new { now }, cancellationToken: cancellationToken));
        if (counts.Admins > 0)
        {
            return new BootstrapResult(BootstrapOutcome.AdminExists, KeyCount: counts.Keys);
        }

        var configured = !string.IsNullOrWhiteSpace(configuredKey);
        if (!configured && counts.Keys > 0)
        {
            // A generated key goes to standard output; an instance that lost its admins is recovered by an
            // operator's deliberate setting, not by printing a fresh admin key into whatever collects stdout.
            return new BootstrapResult(BootstrapOutcome.NoActiveAdmin, KeyCount: counts.Keys);
        }

        if (configured && (configuredKey!.Length < 24 || configuredKey.Length > MaxPresentedLength))
        {
            throw new InvalidOperationException("Auth:BootstrapKey must be between 24 and 512 characters of random text.");
        }

        if (configured && await FindAsync(connection, configuredKey!, cancellationToken) is not null)
        {
            // Only a revoked bootstrap key can match here: a revocation is final, whatever the configuration says.
            return new BootstrapResult(BootstrapOutcome.ConfiguredKeyRevoked, KeyCount: counts.Keys);
        }

        var secret = configured ? configuredKey! : KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var row = NewRow("bootstrap", [ApiScopes.Admin], null, secret);
        if (await connection.ExecuteAsync(new CommandDefinition(InsertBootstrapKey, row, cancellationToken: cancellationToken)) == 0)
        {
            // Another instance installed an admin key between the count and the insert.
            return new BootstrapResult(BootstrapOutcome.AdminExists, KeyCount: counts.Keys);
        }

        var outcome = counts.Keys > 0 ? BootstrapOutcome.Recovered : configured ? BootstrapOutcome.Installed : BootstrapOutcome.Generated;
        return new BootstrapResult(outcome, row.Id, configured ? null : secret, counts.Keys);
    }

    private async Task<ApiKeyInfo> InsertAsync(
        string name,
        IReadOnlyList<string> scopes,
        DateTimeOffset? expiresAt,
        string secret,
        CancellationToken cancellationToken)
    {
        var row = NewRow(name, scopes, expiresAt, secret);
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(InsertKey, row, cancellationToken: cancellationToken));
        return new ApiKeyInfo(row.Id, name, SplitScopes(row.Scopes), row.CreatedAt, null, expiresAt, false);
    }

    private NewKeyRow NewRow(string name, IReadOnlyList<string> scopes, DateTimeOffset? expiresAt, string secret)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var now = _clock.GetUtcNow();
        return new NewKeyRow(
            "key_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
            Lookup(secret),
            name,
            salt,
            Hash(salt, secret),
            string.Join(' ', scopes.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)),
            now,
            expiresAt,
            now);
    }

    /// <summary>The stored row whose secret is <paramref name="presentedKey"/>, in any state, or null.</summary>
    private static async Task<KeyRow?> FindAsync(
        System.Data.Common.DbConnection connection,
        string presentedKey,
        CancellationToken cancellationToken)
    {
        var candidates = await connection.QueryAsync<KeyRow>(
            new CommandDefinition(SelectByLookup, new { lookup = Lookup(presentedKey) }, cancellationToken: cancellationToken));
        return candidates.FirstOrDefault(row => CryptographicOperations.FixedTimeEquals(Hash(row.Salt, presentedKey), row.Hash));
    }

    /// <summary>SQL true for a row of <paramref name="alias"/> that is an unrevoked, unexpired key with the admin scope (scopes are
    /// space-separated).</summary>
    private static string ActiveAdmin(string alias, string now = "@now") =>
        $"{alias}.revoked_at IS NULL AND ({alias}.expires_at IS NULL OR {alias}.expires_at > {now}) AND (' ' || {alias}.scopes || ' " +
        $"') LIKE '% {ApiScopes.Admin} %'";

    private static string Lookup(string secret) => Fingerprint(secret)[..16];

    // Runs on every authenticated request: hashed from the stack, the hex string is its only allocation.
    private static string Fingerprint(string secret)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> utf8 = secret.Length <= MaxPresentedLength
            ? stackalloc byte[Encoding.UTF8.GetMaxByteCount(MaxPresentedLength)]
            : new byte[Encoding.UTF8.GetMaxByteCount(secret.Length)];
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(secret, utf8)], hash);
        return Convert.ToHexString(hash);
    }

    private async Task TouchAsync(
        System.Data.Common.DbConnection connection,
        string id,
        DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        if (_lastTouched.TryGetValue(id, out var last) && now - last < TimeSpan.FromSeconds(_options.LastUsedResolutionSeconds))
        {
            return;
        }

        _lastTouched[id] = now;
        await connection.ExecuteAsync(new CommandDefinition(TouchKey, new { id, now }, cancellationToken: cancellationToken));
    }

    private static byte[] Hash(byte[] salt, string secret)
    {
        var input = new byte[salt.Length + Encoding.UTF8.GetByteCount(secret)];
        salt.CopyTo(input, 0);
        Encoding.UTF8.GetBytes(secret, input.AsSpan(salt.Length));
        return SHA256.HashData(input);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string[] SplitScopes(string scopes) => scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    public void Dispose() => _verified.Dispose();

    private sealed record CachedKey(AuthenticatedKey Key, DateTimeOffset? ExpiresAt);

    /// <summary>The parameters of an insert; <see cref="Now"/> is for the bootstrap insert's active-admin check.</summary>
    private sealed record NewKeyRow(
        string Id,
        string Lookup,
        string Name,
        byte[] Salt,
        byte[] Hash,
        string Scopes,
        DateTimeOffset CreatedAt,
        DateTimeOffset? ExpiresAt,
        DateTimeOffset Now);

    private sealed class StoreCounts
    {
        public long Keys { get; set; }

        public long Admins { get; set; }
    }

    private sealed class KeyRow
    {
        public string Id { get; set; } = "";

        public string Name { get; set; } = "";

        public byte[] Salt { get; set; } = [];

        public byte[] Hash { get; set; } = [];

        public string Scopes { get; set; } = "";

        public DateTimeOffset CreatedAt { get; set; }

        public DateTimeOffset? LastUsedAt { get; set; }

        public DateTimeOffset? ExpiresAt { get; set; }

        public DateTimeOffset? RevokedAt { get; set; }

        public ApiKeyInfo ToInfo() => new(Id, Name, SplitScopes(Scopes), CreatedAt, LastUsedAt, ExpiresAt, RevokedAt is not null);
    }
}
