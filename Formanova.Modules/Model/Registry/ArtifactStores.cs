using System.Data.Common;
using System.Security.Cryptography;
using Dapper;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Model.Registry;

/// <summary>
/// Where a version's files are kept for good. The registry always lays the files out under the data directory
/// first; a store may also keep them elsewhere, inside the registration transaction, and bring them back.
/// </summary>
internal interface IArtifactStore
{
    string Kind { get; }

    Task SaveAsync(
        DbConnection connection,
        DbTransaction transaction,
        string name,
        string version,
        IReadOnlyDictionary<string, byte[]> files,
        CancellationToken cancellationToken);

    Task DeleteAsync(DbConnection connection, DbTransaction transaction, string name, string version, CancellationToken cancellationToken);

    /// <summary>The files of a version, for materialising it on an instance that has no local copy; null if the store has none.</summary>
    Task<IReadOnlyDictionary<string, byte[]>?> LoadAsync(string name, string version, CancellationToken cancellationToken);
}

/// <summary>The default: the local folder is the store, so there is nothing more to keep.</summary>
internal sealed class LocalArtifactStore : IArtifactStore
{
    public string Kind => "local";

    public Task SaveAsync(
        DbConnection connection,
        DbTransaction transaction,
        string name,
        string version,
        IReadOnlyDictionary<string, byte[]> files,
        CancellationToken cancellationToken) =>
        Task.CompletedTask;

    public Task DeleteAsync(
        DbConnection connection,
        DbTransaction transaction,
        string name,
        string version,
        CancellationToken cancellationToken) =>
        Task.CompletedTask;

    public Task<IReadOnlyDictionary<string, byte[]>?> LoadAsync(string name, string version, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyDictionary<string, byte[]>?>(null);
}

/// <summary>Keeps every file in model_artifacts, written in the same transaction as the version row.</summary>
internal sealed class DatabaseArtifactStore(Shared.Database.IDatabase database) : IArtifactStore
{
    private const string Insert = """
        INSERT INTO model_artifacts (name, version, file_name, content, sha256)
        VALUES (@Name, @Version, @FileName, @Content, @Sha256)
        """;

    private const string Delete = "DELETE FROM model_artifacts WHERE name = @Name AND version = @Version";

    private const string Select = """
        SELECT file_name AS FileName, content AS Content, sha256 AS Sha256 FROM model_artifacts
        WHERE name = @Name AND version = @Version
        """;

    public string Kind => "database";

    public async Task SaveAsync(
        DbConnection connection,
        DbTransaction transaction,
        string name,
        string version,
        IReadOnlyDictionary<string, byte[]> files,
        CancellationToken cancellationToken)
    {
        foreach (var (fileName, content) in files)
        {
            await connection.ExecuteAsync(new CommandDefinition(Insert,
                new { Name = name, Version = version, FileName = fileName, Content = content, Sha256 = Checksums.Sha256(content) },
                transaction, cancellationToken: cancellationToken));
        }
    }

    public Task DeleteAsync(
        DbConnection connection,
        DbTransaction transaction,
        string name,
        string version,
        CancellationToken cancellationToken) =>
        connection.ExecuteAsync(
            new CommandDefinition(Delete, new { Name = name, Version = version }, transaction, cancellationToken: cancellationToken));

    public async Task<IReadOnlyDictionary<string, byte[]>?> LoadAsync(string name, string version, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<ArtifactRow>(
            new CommandDefinition(Select, new { Name = name, Version = version }, cancellationToken: cancellationToken))).ToList();
        if (rows.Count == 0)
        {
            return null;
        }

        foreach (var row in rows.Where(r => Checksums.Sha256(r.Content) != r.Sha256))
        {
            throw new ModuleException(
                ErrorKind.Unavailable,
                $"The stored file {row.FileName} of {name} {version} is corrupt (checksum mismatch).");
        }

        return rows.ToDictionary(r => r.FileName, r => r.Content);
    }

    private sealed class ArtifactRow
    {
        public string FileName { get; set; } = "";

        public byte[] Content { get; set; } = [];

        public string Sha256 { get; set; } = "";
    }
}

internal static class Checksums
{
    public static string Sha256(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(SHA256.HashData(content));
}
