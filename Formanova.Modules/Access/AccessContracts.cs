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
