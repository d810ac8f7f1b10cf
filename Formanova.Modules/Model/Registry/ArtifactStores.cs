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

    /// <summary>
    /// Adds a file derived from a registered version's artifact (its ONNX conversion), after the registration; a file of
    /// that name already there is kept, and nothing is kept for a version that no longer exists.
    /// </summary>
    Task SaveFileAsync(string name, string version, string fileName, byte[] content, CancellationToken cancellationToken);

    /// <summary>One file of a version, checksum verified; null if the store has none.</summary>
    Task<byte[]?> LoadFileAsync(string name, string version, string fileName, CancellationToken cancellationToken);
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

    public Task SaveFileAsync(string name, string version, string fileName, byte[] content, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    public Task<byte[]?> LoadFileAsync(string name, string version, string fileName, CancellationToken cancellationToken) =>
        Task.FromResult<byte[]?>(null);
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

    // Only while the version's row exists, so a file saved as the version is deleted does not outlive it.
    private const string InsertFile = """
        INSERT INTO model_artifacts (name, version, file_name, content, sha256)
        SELECT @Name, @Version, @FileName, @Content, @Sha256
        WHERE EXISTS (SELECT 1 FROM model_versions WHERE name = @Name AND version = @Version)
        ON CONFLICT (name, version, file_name) DO NOTHING
        """;

    private const string SelectFile = """
        SELECT file_name AS FileName, content AS Content, sha256 AS Sha256 FROM model_artifacts
        WHERE name = @Name AND version = @Version AND file_name = @FileName
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

    public async Task SaveFileAsync(string name, string version, string fileName, byte[] content, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            InsertFile,
            new { Name = name, Version = version, FileName = fileName, Content = content, Sha256 = Checksums.Sha256(content) },
            cancellationToken: cancellationToken));
    }

    public async Task<byte[]?> LoadFileAsync(string name, string version, string fileName, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<ArtifactRow>(new CommandDefinition(
            SelectFile,
            new { Name = name, Version = version, FileName = fileName },
            cancellationToken: cancellationToken));
        return row is null || Checksums.Sha256(row.Content) == row.Sha256
            ? row?.Content
            : throw new ModuleException(
                ErrorKind.Unavailable,
                $"The stored file {fileName} of {name} {version} is corrupt (checksum mismatch).");
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
