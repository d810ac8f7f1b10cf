using Formanova.Modules.Shared.Api;

namespace Formanova.Modules.Access.Api;

/// <summary>Typical bodies of the key endpoints, for the OpenAPI document.</summary>
internal static class AccessExamples
{
    private static readonly DateTimeOffset CreatedAt = new(2026, 11, 2, 9, 14, 5, TimeSpan.Zero);
    private static readonly DateTimeOffset ExpiresAt = new(2027, 6, 30, 0, 0, 0, TimeSpan.Zero);

    private static readonly ApiKeyInfo Scorer = new(
        "key_3f9c2a7b1d4e8f60", "batch-scorer", [ApiScopes.Predict, ApiScopes.Read], CreatedAt, null, ExpiresAt, false);

    public static CreateApiKeyRequest CreateRequest { get; } = new("batch-scorer", [ApiScopes.Predict, ApiScopes.Read], ExpiresAt);

    public static ApiKeyCreated Created { get; } = new(Scorer, "fnv_q3ZkV9xW2mT7bN4pR8sY1cH6dJ0fL5gA3eK9uM2vQ7w");

    public static IReadOnlyList<ApiKeyInfo> Keys { get; } =
    [
        Scorer with { LastUsedAt = CreatedAt.AddHours(3) },
        new("key_a1b2c3d4e5f60718", "bootstrap", [ApiScopes.Admin], CreatedAt.AddDays(-30), CreatedAt.AddMinutes(-2), null, false),
    ];

    public static AuthenticatedKey Me { get; } = new(Scorer.Id, Scorer.Name, Scorer.Scopes);

    public static ApiKeyInfo Revoked { get; } = Scorer with { LastUsedAt = CreatedAt.AddHours(3), Revoked = true };
}
