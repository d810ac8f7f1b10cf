namespace Formanova.Modules.Access;

public sealed record CreateApiKeyRequest(string Name, IReadOnlyList<string> Scopes, DateTimeOffset? ExpiresAt = null);

public sealed record ApiKeyInfo(
    string Id,
    string Name,
    IReadOnlyList<string> Scopes,
    DateTimeOffset CreatedAt,
    DateTimeOffset? LastUsedAt,
    DateTimeOffset? ExpiresAt,
    bool Revoked);

public sealed record ApiKeyCreated(ApiKeyInfo Key, string Secret);

public sealed record AuthenticatedKey(string Id, string Name, IReadOnlyList<string> Scopes);

/// <summary>What <see cref="IAccessModule.EnsureBootstrapKeyAsync"/> found and did at start-up.</summary>
public enum BootstrapOutcome
{
    /// <summary>An active admin key exists; nothing was done.</summary>
    AdminExists,

    /// <summary>The store was empty; the configured key was installed as the admin key.</summary>
    Installed,

    /// <summary>The store was empty and no key was configured; an admin key was generated (its secret is in the result).</summary>
    Generated,

    /// <summary>Keys existed but none was an active admin; the configured key was installed as an admin key.</summary>
    Recovered,

    /// <summary>Keys existed but none was an active admin, and no key was configured to recover with.</summary>
    NoActiveAdmin,

    /// <summary>No active admin existed, and the configured key is one that was revoked: it is not reinstated.</summary>
    ConfiguredKeyRevoked,
}

/// <param name="Outcome"></param>
/// <param name="KeyId">The key installed or generated, when one was.</param>
/// <param name="GeneratedSecret">The secret of a generated key, to show once; null otherwise.</param>
/// <param name="KeyCount">How many keys the store held before (any state).</param>
public sealed record BootstrapResult(BootstrapOutcome Outcome, string? KeyId = null, string? GeneratedSecret = null, long KeyCount = 0);
