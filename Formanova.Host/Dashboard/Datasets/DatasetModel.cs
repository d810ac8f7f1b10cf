using Formanova.Modules.Data;

namespace Formanova.Host.Dashboard.Datasets;

/// <summary>
/// A dataset's page: its schema and versions, a page of rows from <see cref="Cursor"/>, its latest imports with their row
/// errors, whether this viewer may upload, and the report of an upload just made (or why it failed).
/// </summary>
public sealed record DatasetModel(
    DatasetDetails Dataset,
    RowPage Rows,
    long? Cursor,
    IReadOnlyList<ImportReport> Imports,
    bool CanUpload,
    ImportReport? Uploaded,
    string? UploadError);
