using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Dapper;
using Formanova.Modules.Shared;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model.Registry;

/// <summary>The points of a registration where a crash can happen; tests inject a failure at each.</summary>
internal enum RegistrationStep
{
    FilesWritten,
    MovedIntoPlace,
    ArtifactsStored,
    RowInserted,
}

internal sealed record NewVersion(
    string Name,
    string Version,
    ModelTask Task,
    string Trainer,
    IReadOnlyList<ModelColumn> Columns,
    IReadOnlyDictionary<string, double> Metrics,
    IReadOnlyDictionary<string, string> Tags,
    ModelLineage Lineage,
    string? Notes,
    int? Seed,
    ModelInputContract? Contract = null,
    TrainingReport? Report = null,
    ModelFramework Framework = ModelFramework.Mlnet,
    int? Opset = null,
    OnnxSignature? Signature = null,
    EnsembleInfo? Ensemble = null);

/// <summary>
/// The registry: files under <c>{data}/models/{name}/{version}/</c> and one index row per version. A version
/// exists once its row is committed; the files are written to a temporary folder and renamed into place before
/// that, so a crash at any point leaves either no version or a whole one (leftover folders are swept at start).
/// </summary>
internal sealed class ModelRegistry : IDisposable
{
    public const string ModelFile = "model.zip";

    /// <summary>The artifact of an ONNX version: the graph as uploaded.</summary>
    public const string OnnxFile = "model.onnx";

    /// <summary>The artifact of an ensemble: its manifest, and a stacked ensemble's meta-learner (EnsembleArtifact).</summary>
    public const string EnsembleFile = "ensemble.zip";

    private const string RowColumns = """
        id, name, version, task, trainer, status, created_at, activated_at, run_id, dataset_id, dataset_version,
        schema_json, metrics_json, tags_json, notes, sha256, size_bytes, artifact_store, failure_reason, cache_generation,
        input_contract_json, framework, opset, signature_json, ensemble_json
        """;

    private const string SelectVersion = $"SELECT {RowColumns} FROM model_versions WHERE name = @Name AND version = @Version";

    private const string SelectActive = $"SELECT {RowColumns} FROM model_versions WHERE name = @Name AND status = 'active'";

    private const string SelectByName = $"SELECT {RowColumns} FROM model_versions WHERE name = @Name";

    private const string SelectAll = $"SELECT {RowColumns} FROM model_versions";

    private const string SelectAllAliases = "SELECT name, alias, version FROM model_aliases";

    private const string SelectAliases = "SELECT name, alias, version FROM model_aliases WHERE name = @Name";

    private const string SelectAlias = "SELECT version FROM model_aliases WHERE name = @Name AND alias = @Alias";

    private const string InsertVersion = """
        INSERT INTO model_versions (name, version, task, trainer, status, created_at, activated_at, run_id, dataset_id, dataset_version,
            schema_json, metrics_json, tags_json, notes, sha256, size_bytes, artifact_store, failure_reason, cache_generation,
            input_contract_json, training_report_json, framework, opset, signature_json, ensemble_json)
        VALUES (@Name, @Version, @Task, @Trainer, @Status, @CreatedAt, NULL, @RunId, @DatasetId, @DatasetVersion,
            @SchemaJson, @MetricsJson, @TagsJson, @Notes, @Sha256, @SizeBytes, @ArtifactStore, NULL, 0,
            @InputContractJson, @TrainingReportJson, @Framework, @Opset, @SignatureJson, @EnsembleJson)
        """;

    // Kept out of RowColumns: a report runs to kilobytes, and only the single-version read returns it.
    private const string SelectReport = "SELECT training_report_json FROM model_versions WHERE name = @Name AND version = @Version";

    private const string DemoteActive
        = "UPDATE model_versions SET status = 'registered' WHERE name = @Name AND status = 'active' AND version <> @Version";

    private const string Promote = """
        UPDATE model_versions SET status = 'active', activated_at = @Now, failure_reason = NULL
        WHERE name = @Name AND version = @Version
        """;

    private const string SetStatus
        = "UPDATE model_versions SET status = @Status, failure_reason = @Reason WHERE name = @Name AND version = @Version";

    private const string PreviousStable = $"""
        SELECT {RowColumns} FROM model_versions
        WHERE name = @Name AND status = 'registered' AND activated_at IS NOT NULL
        ORDER BY activated_at DESC
        LIMIT 1
        """;

    private const string UpsertAlias = """
        INSERT INTO model_aliases (name, alias, version, updated_at) VALUES (@Name, @Alias, @Version, @Now)
        ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at
        """;

    private const string DeleteAliasesOfVersion = "DELETE FROM model_aliases WHERE name = @Name AND version = @Version";

    private const string DeleteVersion = "DELETE FROM model_versions WHERE name = @Name AND version = @Version";

    private const string BumpGeneration
        = "UPDATE model_versions SET cache_generation = cache_generation + 1 WHERE name = @Name AND version = @Version";

    private const string CountVersions = "SELECT COUNT(*) FROM model_versions";

    private readonly IDatabase _database;
    private readonly IArtifactStore _store;
    private readonly TimeProvider _clock;
    private readonly ILogger<ModelRegistry> _logger;
    private readonly SemaphoreSlim _filesGate = new(1, 1);

    public ModelRegistry(
        IDatabase database,
        IArtifactStore store,
        IOptions<ModelOptions> options,
        IOptions<FormanovaOptions> formanova,
        TimeProvider clock,
        ILogger<ModelRegistry> logger)
    {
        _database = database;
        _store = store;
        _clock = clock;
        _logger = logger;
        Root = Path.GetFullPath(Path.Combine(formanova.Value.ResolveDataDirectory(), options.Value.Directory));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    /// <summary>Test seam: called after each registration step; throwing there simulates a crash at that point.</summary>
    internal Action<RegistrationStep>? AfterStep { get; set; }

    public string VersionFolder(string name, string version)
    {
        var folder = Path.GetFullPath(Path.Combine(Root, name, version));
        // ModelNames already forbids separators and dots; this guards any caller that skipped it.
        if (!folder.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw ModuleException.Invalid("name", "The model name or version escapes the registry folder.");
        }

        return folder;
    }

    public async Task<ModelVersionRow?> FindAsync(string name, string version, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<ModelVersionRow>(
            new CommandDefinition(SelectVersion, new { Name = name, Version = version }, cancellationToken: cancellationToken));
    }

    public async Task<ModelVersionRow> GetAsync(string name, string version, CancellationToken cancellationToken) =>
        await FindAsync(name, version, cancellationToken) ?? throw ModuleException.NotFound("Model version", $"{name} {version}");

    /// <summary>The training report stored with a version, or null (an uploaded version, or one trained before reports).</summary>
    public async Task<TrainingReport?> FindReportAsync(string name, string version, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        var json = await connection.QuerySingleOrDefaultAsync<string?>(
            new CommandDefinition(SelectReport, new { Name = name, Version = version }, cancellationToken: cancellationToken));
        return json is null ? null : JsonSerializer.Deserialize<TrainingReport>(json, RegistryJson.Options);
    }

    public async Task<ModelVersionRow?> FindActiveAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<ModelVersionRow>(
            new CommandDefinition(SelectActive, new { Name = name }, cancellationToken: cancellationToken));
    }

    public async Task<string?> FindAliasAsync(string name, string alias, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<string>(
            new CommandDefinition(SelectAlias, new { Name = name, Alias = alias }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<ModelVersionRow>> ListAsync(string? name, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<ModelVersionRow>(
            new CommandDefinition(name is null ? SelectAll : SelectByName, new { Name = name }, cancellationToken: cancellationToken));
        return [.. rows.OrderBy(r => r.Name, StringComparer.Ordinal).ThenByDescending(r => r.Version, ModelNames.VersionOrder)];
    }

    public async Task<IReadOnlyList<AliasRow>> ListAliasesAsync(string? name, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        return [
            .. await connection.QueryAsync<AliasRow>(new CommandDefinition(
            name is null ? SelectAllAliases : SelectAliases,
            new { Name = name },
            cancellationToken: cancellationToken))
        ];
    }

    public async Task<bool> IsEmptyAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(CountVersions, cancellationToken: cancellationToken)) == 0;
    }

    public async Task<ModelVersionRow> RegisterAsync(NewVersion version, byte[] zip, CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow();
        var sha = Checksums.Sha256(zip);
        var row = new ModelVersionRow
        {
            Name = version.Name,
            Version = version.Version,
            Task = version.Task.ToString(),
            Trainer = version.Trainer,
            Status = VersionStatusText.Registered,
            CreatedAt = now,
            RunId = version.Lineage.RunId,
            DatasetId = version.Lineage.DatasetId,
            DatasetVersion = version.Lineage.DatasetVersion,
            SchemaJson = JsonSerializer.Serialize(version.Columns, RegistryJson.Options),
            InputContractJson = version.Contract is null ? null : JsonSerializer.Serialize(version.Contract, RegistryJson.Options),
            MetricsJson = JsonSerializer.Serialize(version.Metrics, RegistryJson.Options),
            TagsJson = JsonSerializer.Serialize(version.Tags, RegistryJson.Options),
            Notes = version.Notes,
            Sha256 = sha,
            SizeBytes = zip.LongLength,
            ArtifactStore = _store.Kind,
            TrainingReportJson = version.Report is null ? null : JsonSerializer.Serialize(version.Report, RegistryJson.Options),
            Framework = FrameworkText.Of(version.Framework),
            Opset = version.Opset,
            SignatureJson = version.Signature is null ? null : JsonSerializer.Serialize(version.Signature, RegistryJson.Options),
            EnsembleJson = version.Ensemble is null ? null : JsonSerializer.Serialize(version.Ensemble, RegistryJson.Options),
        };
        var files = Files(version, row, zip);
        var target = VersionFolder(version.Name, version.Version);
        var temporary = Path.Combine(Root, ".tmp", Guid.NewGuid().ToString("N"));

        await _filesGate.WaitAsync(cancellationToken);
        var committed = false;
        var placed = false;
        try
        {
            if (await FindAsync(version.Name, version.Version, cancellationToken) is not null)
            {
                throw new ModuleException(ErrorKind.Conflict, $"Model {version.Name} already has version {version.Version}.");
            }

            Directory.CreateDirectory(temporary);
            foreach (var (fileName, content) in files)
            {
                await File.WriteAllBytesAsync(Path.Combine(temporary, fileName), content, cancellationToken);
            }

            AfterStep?.Invoke(RegistrationStep.FilesWritten);

            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            if (Directory.Exists(target))
            {
                // No row names this folder (checked above, under the gate): it is the remains of a crashed registration.
                Directory.Delete(target, recursive: true);
            }

            Directory.Move(temporary, target);
            placed = true;
            AfterStep?.Invoke(RegistrationStep.MovedIntoPlace);

            await using var connection = await _database.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await _store.SaveAsync(connection, transaction, version.Name, version.Version, files, cancellationToken);
            AfterStep?.Invoke(RegistrationStep.ArtifactsStored);
            await connection.ExecuteAsync(new CommandDefinition(InsertVersion, row, transaction, cancellationToken: cancellationToken));
            AfterStep?.Invoke(RegistrationStep.RowInserted);
            await transaction.CommitAsync(cancellationToken);
            committed = true;
        }
        catch (DbException ex) when (IsUniqueViolation(ex))
        {
            throw new ModuleException(ErrorKind.Conflict, $"Model {version.Name} already has version {version.Version}.", inner: ex);
        }
        finally
        {
            if (!committed)
            {
                TryDelete(temporary);
                if (placed)
                {
                    TryDelete(target);
                }
            }

            _filesGate.Release();
        }

        _logger.LogInformation(
            "Registered model {Model} {Version} ({Trainer}, {Bytes} bytes, store {Store})",
            row.Name,
            row.Version,
            row.Trainer,
            row.SizeBytes,
            row.ArtifactStore);
        return (await FindAsync(version.Name, version.Version, cancellationToken))!;
    }

    public async Task<ModelVersionRow> ActivateAsync(string name, string version, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var row = await Get(connection, transaction, name, version, cancellationToken);
        if (row.VersionStatus == ModelVersionStatus.Failed)
        {
            throw new ModuleException(
                ErrorKind.Conflict,
                $"{name} {version} is marked failed ({row.FailureReason}); register a new version instead.");
        }

        try
        {
            await connection.ExecuteAsync(new CommandDefinition(
                DemoteActive,
                new { Name = name, Version = version },
                transaction,
                cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(
                Promote,
                new { Name = name, Version = version, Now = _clock.GetUtcNow() },
                transaction,
                cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbException ex) when (IsUniqueViolation(ex))
        {
            throw new ModuleException(ErrorKind.Conflict, $"Another activation of {name} ran at the same time; retry.", inner: ex);
        }

        _logger.LogInformation("Activated model {Model} {Version}", name, version);
        return await GetAsync(name, version, cancellationToken);
    }

    public async Task SetAliasAsync(string name, string alias, string version, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await Get(connection, transaction, name, version, cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            UpsertAlias,
            new { Name = name, Alias = alias, Version = version, Now = _clock.GetUtcNow() },
            transaction,
            cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<ModelVersionRow> ArchiveAsync(string name, string version, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var row = await Get(connection, transaction, name, version, cancellationToken);
        if (row.VersionStatus == ModelVersionStatus.Active)
        {
            throw new ModuleException(ErrorKind.Conflict, $"{name} {version} is active; activate another version before archiving it.");
        }

        await connection.ExecuteAsync(new CommandDefinition(
            SetStatus,
            new { Name = name, Version = version, Status = VersionStatusText.Archived, Reason = row.FailureReason },
            transaction,
            cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return await GetAsync(name, version, cancellationToken);
    }

    public async Task DeleteAsync(string name, string version, CancellationToken cancellationToken)
    {
        await _filesGate.WaitAsync(cancellationToken);
        try
        {
            await using (var connection = await _database.OpenConnectionAsync(cancellationToken))
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                var row = await Get(connection, transaction, name, version, cancellationToken);
                if (row.VersionStatus == ModelVersionStatus.Active)
                {
                    throw new ModuleException(
                        ErrorKind.Conflict,
                        $"{name} {version} is the active version and cannot be deleted; activate another version first.");
                }

                await connection.ExecuteAsync(new CommandDefinition(
                    DeleteAliasesOfVersion,
                    new { Name = name, Version = version },
                    transaction,
                    cancellationToken: cancellationToken));
                await _store.DeleteAsync(connection, transaction, name, version, cancellationToken);
                await connection.ExecuteAsync(new CommandDefinition(
                    DeleteVersion,
                    new { Name = name, Version = version },
                    transaction,
                    cancellationToken: cancellationToken));
                await transaction.CommitAsync(cancellationToken);
            }

            // The row is gone first: a crash before this line leaves a folder no row names, which start-up sweeps.
            TryDelete(VersionFolder(name, version));
        }
        finally
        {
            _filesGate.Release();
        }

        _logger.LogInformation("Deleted model {Model} {Version}", name, version);
    }

    /// <summary>Marks a version failed; if it was active, the most recently active non-failed, non-archived version takes over.</summary>
    public async Task<(ModelVersionRow Failed, ModelVersionRow? Active)> MarkFailedAsync(
        string name,
        string? version,
        string reason,
        CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var target = version is null
            ? await connection.QuerySingleOrDefaultAsync<ModelVersionRow>(
                new CommandDefinition(SelectActive, new { Name = name }, transaction, cancellationToken: cancellationToken))
                ?? throw new ModuleException(ErrorKind.NotFound, $"Model '{name}' has no active version.")
            : await Get(connection, transaction, name, version, cancellationToken);

        await connection.ExecuteAsync(new CommandDefinition(
            SetStatus,
            new { Name = name, target.Version, Status = VersionStatusText.Failed, Reason = reason },
            transaction,
            cancellationToken: cancellationToken));
        ModelVersionRow? previous = null;
        if (target.VersionStatus == ModelVersionStatus.Active)
        {
            previous = await connection.QuerySingleOrDefaultAsync<ModelVersionRow>(
                new CommandDefinition(PreviousStable, new { Name = name }, transaction, cancellationToken: cancellationToken));
            if (previous is not null)
            {
                await connection.ExecuteAsync(new CommandDefinition(
                    Promote,
                    new { Name = name, previous.Version, Now = _clock.GetUtcNow() },
                    transaction,
                    cancellationToken: cancellationToken));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        _logger.LogWarning(
            "Model {Model} {Version} marked failed ({Reason}); active version is now {Active}",
            name,
            target.Version,
            reason,
            previous?.Version ?? (target.VersionStatus == ModelVersionStatus.Active ? "none" : "unchanged"));
        return (await GetAsync(name, target.Version, cancellationToken), previous is null
            ? null
            : await GetAsync(name, previous.Version, cancellationToken));
    }

    public async Task<long> BumpCacheGenerationAsync(string name, string version, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        var changed = await connection.ExecuteAsync(
            new CommandDefinition(BumpGeneration, new { Name = name, Version = version }, cancellationToken: cancellationToken));
        return changed == 0
            ? throw ModuleException.NotFound("Model version", $"{name} {version}")
            : (await GetAsync(name, version, cancellationToken)).CacheGeneration;
    }

    /// <summary>The artifact's file name: <see cref="ModelFile"/>, <see cref="OnnxFile"/> or <see cref="EnsembleFile"/>.</summary>
    public static string ArtifactFile(ModelFramework framework) => framework switch
    {
        ModelFramework.Onnx => OnnxFile,
        ModelFramework.Ensemble => EnsembleFile,
        _ => ModelFile,
    };

    /// <summary>
    /// The path of the version's artifact (model.zip or model.onnx), checked against the registered SHA-256. A missing
    /// or corrupt local copy is fetched again from the artifact store when it has one.
    /// </summary>
    public async Task<string> EnsureLocalAsync(ModelVersionRow row, CancellationToken cancellationToken)
    {
        var folder = VersionFolder(row.Name, row.Version);
        var path = Path.Combine(folder, ArtifactFile(row.ModelFramework));
        if (await MatchesAsync(path, row.Sha256, cancellationToken))
        {
            return path;
        }

        var files = await _store.LoadAsync(row.Name, row.Version, cancellationToken)
            ?? throw new ModuleException(
                ErrorKind.Unavailable,
                $"The artifact of {row.Name} {row.Version} is missing or does not match its SHA-256 checksum.");

        await _filesGate.WaitAsync(cancellationToken);
        var temporary = Path.Combine(Root, ".tmp", Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(temporary);
            foreach (var (fileName, content) in files)
            {
                await File.WriteAllBytesAsync(Path.Combine(temporary, Path.GetFileName(fileName)), content, cancellationToken);
            }

            Directory.CreateDirectory(Path.GetDirectoryName(folder)!);
            TryDelete(folder);
            Directory.Move(temporary, folder);
        }
        finally
        {
            TryDelete(temporary);
            _filesGate.Release();
        }

        _logger.LogInformation("Materialised model {Model} {Version} from the {Store} artifact store", row.Name, row.Version, _store.Kind);
        return await MatchesAsync(path, row.Sha256, cancellationToken)
            ? path
            : throw new ModuleException(
                ErrorKind.Unavailable,
                $"The stored artifact of {row.Name} {row.Version} does not match its SHA-256 checksum.");
    }

    /// <summary>Removes what crashed registrations or deletions left behind: temporary folders and version folders no row names.</summary>
    public async Task RecoverAsync(CancellationToken cancellationToken)
    {
        await _filesGate.WaitAsync(cancellationToken);
        try
        {
            TryDelete(Path.Combine(Root, ".tmp"));
            var known = (await ListAsync(null, cancellationToken)).Select(r => (r.Name, r.Version)).ToHashSet();
            foreach (var modelFolder in Directory.EnumerateDirectories(Root))
            {
                var name = Path.GetFileName(modelFolder);
                foreach (var versionFolder in Directory.EnumerateDirectories(modelFolder))
                {
                    if (!known.Contains((name, Path.GetFileName(versionFolder))))
                    {
                        _logger.LogWarning(
                            "Removing {Folder}: no registered version names it (left by an interrupted registration or deletion)",
                            versionFolder);
                        TryDelete(versionFolder);
                    }
                }

                if (!Directory.EnumerateFileSystemEntries(modelFolder).Any())
                {
                    TryDelete(modelFolder);
                }
            }
        }
        finally
        {
            _filesGate.Release();
        }
    }

    /// <summary>
    /// A file derived from the version's artifact (its ONNX conversion, named by the caller), opened from the version's
    /// folder or else fetched from the artifact store and kept in the folder; null when neither has it.
    /// </summary>
    public async Task<Stream?> OpenDerivedFileAsync(ModelVersionRow row, string fileName, CancellationToken cancellationToken)
    {
        var path = Path.Combine(VersionFolder(row.Name, row.Version), fileName);
        try
        {
            return File.OpenRead(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            // Not converted on this instance yet: the artifact store may have it from another.
        }

        var stored = await _store.LoadFileAsync(row.Name, row.Version, fileName, cancellationToken);
        if (stored is null)
        {
            return null;
        }

        await WriteDerivedFileAsync(path, stored, cancellationToken);
        return new MemoryStream(stored, writable: false);
    }

    /// <summary>Keeps a file derived from the version's artifact in the artifact store and in the version's folder.</summary>
    public async Task SaveDerivedFileAsync(ModelVersionRow row, string fileName, byte[] content, CancellationToken cancellationToken)
    {
        await _store.SaveFileAsync(row.Name, row.Version, fileName, content, cancellationToken);
        await WriteDerivedFileAsync(Path.Combine(VersionFolder(row.Name, row.Version), fileName), content, cancellationToken);
    }

    public void Dispose() => _filesGate.Dispose();

    /// <summary>A temporary file renamed into place: a reader sees the whole file or none, whenever the process dies.</summary>
    private async Task WriteDerivedFileAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        await _filesGate.WaitAsync(cancellationToken);
        var temporary = Path.Combine(Root, ".tmp", Guid.NewGuid().ToString("N"));
        try
        {
            // No folder: the version was deleted meanwhile (or lives only in the artifact store), so there is nothing to keep.
            if (Directory.Exists(Path.GetDirectoryName(path)))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(temporary)!);
                await File.WriteAllBytesAsync(temporary, content, cancellationToken);
                File.Move(temporary, path, overwrite: true);
            }
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }

            _filesGate.Release();
        }
    }

    private static async Task<bool> MatchesAsync(string path, string sha256, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        return Checksums.Sha256(await File.ReadAllBytesAsync(path, cancellationToken)) == sha256;
    }

    private static async Task<ModelVersionRow> Get(
        DbConnection connection,
        DbTransaction transaction,
        string name,
        string version,
        CancellationToken cancellationToken) =>
        await connection.QuerySingleOrDefaultAsync<ModelVersionRow>(
            new CommandDefinition(SelectVersion, new { Name = name, Version = version }, transaction, cancellationToken: cancellationToken))
            ?? throw ModuleException.NotFound("Model version", $"{name} {version}");

    private static Dictionary<string, byte[]> Files(NewVersion version, ModelVersionRow row, byte[] zip)
    {
        var metadata = new
        {
            name = version.Name,
            version = version.Version,
            task = version.Task,
            trainer = version.Trainer,
            seed = version.Seed,
            framework = version.Framework,
            opset = version.Opset,
            signature = version.Signature,
            ensemble = version.Ensemble,
            createdAt = row.CreatedAt,
            columns = version.Columns,
            contract = version.Contract,
            lineage = version.Lineage,
            tags = version.Tags,
            notes = version.Notes,
            sha256 = row.Sha256,
            sizeBytes = row.SizeBytes,
        };
        return new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            [ArtifactFile(version.Framework)] = zip,
            ["config.yaml"] = Encoding.UTF8.GetBytes(ConfigYaml(version)),
            ["metadata.json"] = JsonSerializer.SerializeToUtf8Bytes(metadata, RegistryJson.Options),
            ["performance_metrics.json"] = JsonSerializer.SerializeToUtf8Bytes(version.Metrics, RegistryJson.Options),
        };
    }

    // A handful of scalar keys and a list of columns: not worth a YAML library. Strings are JSON-quoted, which is valid YAML.
    private static string ConfigYaml(NewVersion version)
    {
        var yaml = new StringBuilder();
        yaml.Append(
            CultureInfo.InvariantCulture,
            $"name: {Quote(version.Name)}\nversion: {Quote(version.Version)}\ntask: {version.Task}\ntrainer: {Quote(version.Trainer)}\n");
        yaml.Append(CultureInfo.InvariantCulture, $"framework: {FrameworkText.Of(version.Framework)}\n");
        if (version.Seed is { } seed)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"seed: {seed}\n");
        }

        yaml.Append("columns:\n");
        foreach (var column in version.Columns)
        {
            yaml.Append(
                CultureInfo.InvariantCulture,
                $"  - name: {Quote(column.Name)}\n    kind: {column.Kind}\n    label: {(column.IsLabel ? "true" : "false")}\n");
        }

        return yaml.ToString();
    }

    private static string Quote(string value) => JsonSerializer.Serialize(value);

    private static bool IsUniqueViolation(DbException exception) =>
        exception is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 19 } or Npgsql.PostgresException { SqlState: "23505" };

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (IOException)
        {
            // Swept again at the next start.
        }
        catch (UnauthorizedAccessException)
        {
            // Swept again at the next start.
        }
    }
}

internal sealed class AliasRow
{
    public string Name { get; set; } = "";

    public string Alias { get; set; } = "";

    public string Version { get; set; } = "";
}
