using Formanova.Host.Dashboard.Layout;
using Formanova.Host.Dashboard.Workflows;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Host.Dashboard.Datasets;

/// <summary>The datasets list, a dataset's schema, rows, imports and upload form, and the upload itself.</summary>
internal static class DatasetPageEndpoints
{
    /// <summary>The API endpoint whose scope an upload needs.</summary>
    public const string UploadEndpoint = "ImportRows";

    private const int PreviewRows = 20;
    private const int ImportsShown = 10;

    /// <param name="ui">The dashboard's group.</param>
    /// <param name="maxUploadBytes">Dashboard:MaxUploadBytes: the upload's body limit, applied by routing before the form is read.</param>
    public static IEndpointRouteBuilder MapDatasetPages(this IEndpointRouteBuilder ui, long maxUploadBytes)
    {
        ui.MapGet("/datasets", ListAsync);
        ui.MapGet("/datasets/{id:long}", ShowAsync);
        ui.MapPost("/datasets/{id:long}/rows", UploadAsync).AsForm()
            .WithMetadata(new UploadLimit(maxUploadBytes))
            .WithFormOptions(multipartBodyLengthLimit: maxUploadBytes);
        return ui;
    }

    private static Task<IResult> ShowAsync(
        long id,
        long? cursor,
        HttpContext http,
        IDataModule data,
        ActionScopes scopes,
        CancellationToken ct) =>
        PageAsync(http, data, scopes, id, cursor, null, null, StatusCodes.Status200OK, ct);

    private static async Task<IResult> ListAsync(HttpContext http, IDataModule data, CancellationToken ct)
    {
        IReadOnlyList<DatasetSummary> list = [];
        string? error = null;
        try
        {
            list = await data.ListDatasetsAsync(ct);
        }
        catch (ModuleException ex)
        {
            error = $"The datasets could not be read: {ex.Message}";
        }

        return DashboardPages.Page<DatasetsPage>(
            new { Chrome = DashboardPages.Chrome(http, Sections.Datasets), Datasets = list, Error = error });
    }

    /// <summary>
    /// Imports the uploaded file as <c>POST /api/v1/datasets/{id}/rows</c> does, with that endpoint's scope, and shows its
    /// report on the dataset's page: 200 when rows were stored, 422 when the import rejected them all.
    /// </summary>
    private static async Task<IResult> UploadAsync(
        long id,
        HttpContext http,
        IDataModule data,
        ActionScopes scopes,
        CancellationToken ct)
    {
        if (scopes.Refusal(http, UploadEndpoint, "Upload rows") is { } refused)
        {
            return refused;
        }

        var form = await http.Request.ReadFormAsync(ct);
        ImportReport? report = null;
        string? error = null;
        try
        {
            var file = form.Files["file"] ?? throw ModuleException.Invalid("file", "Choose a file to upload.");
            var format = form["format"].ToString() switch
            {
                "csv" => ImportFormat.Csv,
                "json" => ImportFormat.Json,
                "ndjson" => ImportFormat.Ndjson,
                _ => Path.GetExtension(file.FileName).ToLowerInvariant() switch
                {
                    ".csv" => ImportFormat.Csv,
                    ".json" => ImportFormat.Json,
                    ".ndjson" or ".jsonl" => ImportFormat.Ndjson,
                    _ => throw ModuleException.Invalid(
                        "format",
                        $"Cannot tell the format of '{file.FileName}': choose CSV, JSON or NDJSON."),
                },
            };
            var mode = form["onError"].ToString() == "skip" ? ImportErrorMode.Skip : ImportErrorMode.Reject;
            await using var content = file.OpenReadStream();
            report = await data.ImportRowsAsync(id, content, new ImportOptions(format, OnError: mode), ct);
        }
        catch (ModuleException ex) when (ex.Kind != ErrorKind.NotFound)
        {
            error = ex.Message;
        }

        var status = report?.Status == ImportStatus.Committed ? StatusCodes.Status200OK : StatusCodes.Status422UnprocessableEntity;
        return await PageAsync(http, data, scopes, id, null, report, error, status, ct);
    }

    private static async Task<IResult> PageAsync(
        HttpContext http,
        IDataModule data,
        ActionScopes scopes,
        long id,
        long? cursor,
        ImportReport? uploaded,
        string? uploadError,
        int status,
        CancellationToken ct)
    {
        try
        {
            var dataset = await data.GetDatasetAsync(id, ct);
            var rows = await data.ReadRowsAsync(id, cursor, PreviewRows, ct);
            var imports = await data.ListImportsAsync(id, ImportsShown, ct);
            var canUpload = scopes.Allows(http.User, UploadEndpoint);
            var model = new DatasetModel(dataset, rows, cursor, imports, canUpload, uploaded, uploadError);
            return DashboardPages.Page<DatasetPage>(new { Chrome = DashboardPages.Chrome(http, Sections.Datasets), Model = model }, status);
        }
        catch (ModuleException ex)
        {
            return DashboardPages.Problem(http, ex);
        }
    }

    /// <summary>The upload's body limit in place of the API's default for JSON bodies.</summary>
    private sealed class UploadLimit(long bytes) : Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata
    {
        public long? MaxRequestBodySize => bytes;
    }
}
