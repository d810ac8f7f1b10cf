using System.Data.Common;
using Dapper;
using Formanova.Modules.Shared.Database;

namespace Formanova.Modules.Data.Storage;

internal sealed class DatasetRow
{
    public long Id { get; set; }

    public string Name { get; set; } = "";

    public string? Description { get; set; }

    public int SchemaVersion { get; set; }

    public bool RequireLabel { get; set; }

    public long RowCount { get; set; }

    public long? DerivedFromId { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

internal sealed class SchemaVersionRow
{
    public int Version { get; set; }

    public bool RequireLabel { get; set; }

    public string Columns { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>What recording an import found; the caller rolls back unless <see cref="Recorded"/>.</summary>
internal enum ImportRecord
{
    Recorded,

    /// <summary>Another attempt with the same import id committed first.</summary>
    AlreadyRecorded,

    DatasetGone,
}

/// <summary>Datasets, their schema versions and their import records.</summary>
internal sealed class DatasetRepository(IDatabase database)
{
    private const string DatasetColumns
        = "id, name, description, schema_version, require_label, row_count, derived_from_id, created_at, updated_at";

    private const string InsertDataset = """
        INSERT INTO data_datasets (name, description, schema_version, require_label, row_count, derived_from_id, created_at, updated_at)
        VALUES (@Name, @Description, 1, @RequireLabel, 0, @DerivedFromId, @Now, @Now)
        ON CONFLICT (name) DO NOTHING
        RETURNING id
        """;

    private const string InsertVersion = """
        INSERT INTO data_schema_versions (dataset_id, version, require_label, columns, created_at)
        VALUES (@DatasetId, @Version, @RequireLabel, @Columns, @Now)
        """;

    private const string SelectDataset = $"SELECT {DatasetColumns} FROM data_datasets WHERE id = @Id";

    private const string SelectDatasets = $"SELECT {DatasetColumns} FROM data_datasets ORDER BY id DESC";

    private const string SelectVersions = """
        SELECT version, require_label, columns, created_at FROM data_schema_versions WHERE dataset_id = @Id ORDER BY version
        """;

    private const string BumpVersion = """
        UPDATE data_datasets SET schema_version = schema_version + 1, require_label = @RequireLabel, updated_at = @Now
        WHERE id = @Id RETURNING schema_version
        """;

    // The definition goes in one short transaction; the rows, possibly millions, are deleted afterwards in chunks
    // (ImportStaging.PurgeDatasetAsync) under the purge record, which the sweep finishes if the process stops.
    // Marking the dataset's running import attempts first means none of them writes another batch.
    private const string DeleteDefinition = """
        UPDATE data_import_attempts SET state = 'discarding' WHERE dataset_id = @Id;
        INSERT INTO data_row_purges (dataset_id, requested_at) VALUES (@Id, @Now) ON CONFLICT (dataset_id) DO NOTHING;
        DELETE FROM data_imports WHERE dataset_id = @Id;
        DELETE FROM data_schema_versions WHERE dataset_id = @Id;
        DELETE FROM data_datasets WHERE id = @Id;
        """;

    private const string SelectImport = "SELECT report FROM data_imports WHERE dataset_id = @DatasetId AND import_id = @ImportId";

    private const string SelectImports =
        "SELECT report FROM data_imports WHERE dataset_id = @DatasetId ORDER BY created_at DESC, import_id LIMIT @Limit";

    private const string InsertImport = """
        INSERT INTO data_imports (dataset_id, import_id, report, created_at) VALUES (@DatasetId, @ImportId, @Report, @Now)
        ON CONFLICT (dataset_id, import_id) DO NOTHING
        """;

    private const string AddRows = "UPDATE data_datasets SET row_count = row_count + @Count, updated_at = @Now WHERE id = @Id";

    private const string DatasetExists = "SELECT id FROM data_datasets WHERE id = @Id";

    /// <summary>Returns the new id, or null when the name is taken.</summary>
    public async Task<long?> CreateAsync(
        string name,
        string? description,
        bool requireLabel,
        long? derivedFromId,
        string columnsJson,
        DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var id = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(InsertDataset, new
        {
            Name = name,
            Description = description,
            RequireLabel = requireLabel,
            DerivedFromId = derivedFromId,
            Now = now,
        }, transaction, cancellationToken: cancellationToken));
        if (id is null)
        {
            return null;
        }

        await connection.ExecuteAsync(new CommandDefinition(InsertVersion, new
        {
            DatasetId = id.Value,
            Version = 1,
            RequireLabel = requireLabel,
            Columns = columnsJson,
            Now = now,
        }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return id;
    }

    public async Task<DatasetRow?> GetAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<DatasetRow>(
            new CommandDefinition(SelectDataset, new { Id = id }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<DatasetRow>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<DatasetRow>(new CommandDefinition(SelectDatasets, cancellationToken: cancellationToken)))
            .AsList();
    }

    public async Task<IReadOnlyList<SchemaVersionRow>> GetVersionsAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<SchemaVersionRow>(
            new CommandDefinition(SelectVersions, new { Id = id }, cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>Adds a schema version and makes it current; null when the dataset does not exist.</summary>
    public async Task<int?> AddVersionAsync(
        long id,
        string columnsJson,
        bool requireLabel,
        DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var version = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            BumpVersion,
            new { Id = id, RequireLabel = requireLabel, Now = now },
            transaction,
            cancellationToken: cancellationToken));
        if (version is null)
        {
            return null;
        }

        await connection.ExecuteAsync(new CommandDefinition(InsertVersion, new
        {
            DatasetId = id,
            Version = version.Value,
            RequireLabel = requireLabel,
            Columns = columnsJson,
            Now = now,
        }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return version;
    }

    /// <summary>Deletes the dataset's definition and records its rows for purging; false when it does not exist.</summary>
    public async Task<bool> DeleteAsync(long id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var exists = await connection.ExecuteScalarAsync<long?>(
            new CommandDefinition(DatasetExists, new { Id = id }, transaction, cancellationToken: cancellationToken));
        if (exists is null)
        {
            return false;
        }

        await connection.ExecuteAsync(
            new CommandDefinition(DeleteDefinition, new { Id = id, Now = now }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<string?> GetImportReportAsync(long datasetId, string importId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<string>(
            new CommandDefinition(SelectImport, new { DatasetId = datasetId, ImportId = importId }, cancellationToken: cancellationToken));
    }

    /// <summary>The stored reports of a dataset's imports, newest first.</summary>
    public async Task<IReadOnlyList<string>> ListImportReportsAsync(long datasetId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var reports = await connection.QueryAsync<string>(
            new CommandDefinition(SelectImports, new { DatasetId = datasetId, Limit = limit }, cancellationToken: cancellationToken));
        return [.. reports];
    }

    /// <summary>
    /// Records an import and adds its rows to the count inside the caller's transaction. The count goes first: it
    /// locks the dataset's row, so a concurrent deletion either waits for this transaction or is seen to have won.
    /// </summary>
    public static async Task<ImportRecord> TryRecordImportAsync(
        DbConnection connection,
        DbTransaction transaction,
        long datasetId,
        string importId,
        string reportJson,
        long rows,
        DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        if (await connection.ExecuteAsync(new CommandDefinition(
            AddRows,
            new { Id = datasetId, Count = rows, Now = now },
            transaction,
            cancellationToken: cancellationToken)) == 0)
        {
            return ImportRecord.DatasetGone;
        }

        var inserted = await connection.ExecuteAsync(new CommandDefinition(InsertImport, new
        {
            DatasetId = datasetId,
            ImportId = importId,
            Report = reportJson,
            Now = now,
        }, transaction, cancellationToken: cancellationToken));
        return inserted == 0 ? ImportRecord.AlreadyRecorded : ImportRecord.Recorded;
    }
}
