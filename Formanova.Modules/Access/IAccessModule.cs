namespace Formanova.Modules.Access;

/// <summary>API keys: issue, list, revoke, and authenticate a presented key.</summary>
public interface IAccessModule
{
    /// <summary>Creates a key. The secret is in the result and is never retrievable again.</summary>
    Task<ApiKeyCreated> CreateKeyAsync(CreateApiKeyRequest request, CancellationToken cancellationToken = default);

    /// <summary>Lists every key (never the secrets), newest first.</summary>
    Task<IReadOnlyList<ApiKeyInfo>> ListKeysAsync(CancellationToken cancellationToken = default);

    /// <summary>Revokes a key; revoking twice is harmless. Throws NotFound for an unknown id.</summary>
    Task<ApiKeyInfo> RevokeKeyAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Checks a presented key in constant time. Returns null when it is unknown, revoked or expired. Results are
    /// cached briefly, so a revocation elsewhere takes effect within <c>Auth:CacheSeconds</c>.
    /// </summary>
    Task<AuthenticatedKey?> AuthenticateAsync(string presentedKey, CancellationToken cancellationToken = default);

    /// <summary>
    /// On a store with no keys, installs <paramref name="configuredKey"/> as an admin key, or generates one.
    /// Returns the generated secret (to show once), or null when a key already existed or was configured.
    /// </summary>
    Task<string?> EnsureBootstrapKeyAsync(string? configuredKey, CancellationToken cancellationToken = default);
}
