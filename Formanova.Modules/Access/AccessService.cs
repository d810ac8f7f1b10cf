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

    private const string InsertKey = """
        INSERT INTO access_api_keys (id, lookup, name, salt, hash, scopes, created_at, expires_at)
        VALUES (@Id, @Lookup, @Name, @Salt, @Hash, @Scopes, @CreatedAt, @ExpiresAt)
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

    private const string RevokeKey = "UPDATE access_api_keys SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL";

    private const string TouchKey = "UPDATE access_api_keys SET last_used_at = @now WHERE id = @id";

    private const string CountKeys = "SELECT COUNT(*) FROM access_api_keys";

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
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(RevokeKey, new { id, now = _clock.GetUtcNow() }, cancellationToken: cancellationToken));
        var row = await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition(SelectKey, new { id }, cancellationToken: cancellationToken))
            ?? throw ModuleException.NotFound("API key", id);
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
        var fingerprint = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(presentedKey)));
        if (_verified.TryGetValue(fingerprint, out CachedKey? cached) && cached is not null
            && !_revokedHere.ContainsKey(cached.Key.Id) && (cached.ExpiresAt is null || cached.ExpiresAt > now))
        {
            return cached.Key;
        }

        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        var candidates = await connection.QueryAsync<KeyRow>(new CommandDefinition(SelectByLookup, new { lookup = fingerprint[..16] }, cancellationToken: cancellationToken));
        foreach (var row in candidates)
        {
            var hash = Hash(row.Salt, presentedKey);
            if (!CryptographicOperations.FixedTimeEquals(hash, row.Hash))
            {
                continue;
            }

            if (row.RevokedAt is not null || (row.ExpiresAt is { } expires && expires <= now))
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

        return null;
    }

    public async Task<string?> EnsureBootstrapKeyAsync(string? configuredKey, CancellationToken cancellationToken = default)
    {
        await using (var connection = await _database.OpenConnectionAsync(cancellationToken))
        {
            if (await connection.ExecuteScalarAsync<long>(new CommandDefinition(CountKeys, cancellationToken: cancellationToken)) > 0)
            {
                return null;
            }
        }

        if (!string.IsNullOrWhiteSpace(configuredKey))
        {
            if (configuredKey.Length < 24 || configuredKey.Length > MaxPresentedLength)
            {
                throw new InvalidOperationException("Auth:BootstrapKey must be between 24 and 512 characters of random text.");
            }

            await InsertAsync("bootstrap", [ApiScopes.Admin], null, configuredKey, cancellationToken);
            return null;
        }

        var created = await CreateKeyAsync(new CreateApiKeyRequest("bootstrap", [ApiScopes.Admin]), cancellationToken);
        return created.Secret;
    }

    private async Task<ApiKeyInfo> InsertAsync(string name, IReadOnlyList<string> scopes, DateTimeOffset? expiresAt, string secret, CancellationToken cancellationToken)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var row = new
        {
            Id = "key_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
            Lookup = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(secret)))[..16],
            Name = name,
            Salt = salt,
            Hash = Hash(salt, secret),
            Scopes = string.Join(' ', scopes.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)),
            CreatedAt = _clock.GetUtcNow(),
            ExpiresAt = expiresAt,
        };

        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(InsertKey, row, cancellationToken: cancellationToken));
        return new ApiKeyInfo(row.Id, name, SplitScopes(row.Scopes), row.CreatedAt, null, expiresAt, false);
    }

    private async Task TouchAsync(System.Data.Common.DbConnection connection, string id, DateTimeOffset now, CancellationToken cancellationToken)
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
