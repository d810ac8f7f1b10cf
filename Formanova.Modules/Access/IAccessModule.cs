namespace Formanova.Modules.Access;

/// <summary>API keys: issue, list, revoke, and authenticate a presented key.</summary>
public interface IAccessModule
{
    /// <summary>Creates a key. The secret is in the result and is never retrievable again.</summary>
    Task<ApiKeyCreated> CreateKeyAsync(CreateApiKeyRequest request, CancellationToken cancellationToken = default);

    /// <summary>Lists every key (never the secrets), newest first.</summary>
    Task<IReadOnlyList<ApiKeyInfo>> ListKeysAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Revokes a key; revoking twice is harmless. Throws NotFound for an unknown id, and Conflict when the key is
    /// the last active (unrevoked, unexpired) admin key: the check and the update are one atomic statement, so two
    /// admins revoking each other at once cannot leave none.
    /// </summary>
    Task<ApiKeyInfo> RevokeKeyAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Checks a presented key in constant time. Returns null when it is unknown, revoked or expired. Results are
    /// cached briefly, so a revocation elsewhere takes effect within <c>Auth:CacheSeconds</c>.
    /// </summary>
    Task<AuthenticatedKey?> AuthenticateAsync(string presentedKey, CancellationToken cancellationToken = default);

    /// <summary>
    /// The key with this id as the store has it now (never the secret), or null when there is none: for a session
    /// that carries only the key's id and must see a revocation or expiry without the secret. Not cached.
    /// </summary>
    Task<ApiKeyInfo?> GetKeyAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// When no active admin key exists, installs <paramref name="configuredKey"/> as an admin key named
    /// <c>bootstrap</c>. On an empty store without a configured key it generates one (the secret is in the result,
    /// to show once). A store that has keys but no active admin is recovered only with a configured key, and never
    /// with a key that was revoked.
    /// </summary>
    Task<BootstrapResult> EnsureBootstrapKeyAsync(string? configuredKey, CancellationToken cancellationToken = default);
}
