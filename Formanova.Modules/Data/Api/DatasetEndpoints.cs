using System.ComponentModel;
using System.Text.Json;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Formanova.Modules.Data.Api;

/// <summary>The first rows of a transformed read: the columns after the transforms, and each row by column name.</summary>
internal sealed record QueryRowsResult(IReadOnlyList<RowStreamColumn> Columns, List<IReadOnlyDictionary<string, object?>> Rows);

internal static class DatasetEndpoints
{
    /// <summary>The upload content types, listed in a 415's <c>accepted</c> (the first of each format is its canonical one).</summary>
    private static readonly string[] AcceptedContentTypes =
    [
        "text/csv",
        "application/json",
        "application/x-ndjson",
        ParquetContentType,
        "application/vnd.apache.arrow.file",
        "application/vnd.apache.arrow.stream",
        "multipart/form-data",
    ];

    private const string ParquetContentType = "application/vnd.apache.parquet";

    private const string FormatDescription =
        "The upload's format, overriding its Content-Type: `csv`, `json`, `ndjson` (or `jsonl`), `parquet`, or `arrow` "
        + "(or `feather`, `ipc`).";

    private const string DelimiterDescription = "The CSV field delimiter: one character, or `tab`. Default `,`.";

    public static void Map(IEndpointRouteBuilder api)
    {
        var group = api.MapGroup("/datasets").WithTags("Datasets");

        group.MapPost("/", async Task<Created<DatasetDetails>> (CreateDatasetRequest request, IDataModule data, CancellationToken ct) =>
        {
            var created = await data.CreateDatasetAsync(request, ct);
            return TypedResults.Created($"/api/v1/datasets/{created.Id}", created);
        }).WithName("CreateDataset")
            .WithSummary("Create a dataset")
            .WithDescription(
                "Creates an empty dataset with schema version 1: its `columns` (name, type, nullability, role: `feature`, "
                + "`label`, `id` or `ignore`, and constraints) and an optional `description`. At most one column is the "
                + "label (`requireLabel: true` demands one) and at most `Data:MaxColumns` columns are taken; the first `id` "
                + "column is the one `FindRowByEntityId` looks rows up by. Rows are added with `ImportRows`. `Location` "
                + "names the dataset. **409** when a dataset with this name already exists.")
            .WithRequestExample(DataExamples.CreateRequest)
            .WithResponseExample(DataExamples.Created, StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesValidationProblem();

        group.MapGet("/", async (IDataModule data, CancellationToken ct) => TypedResults.Ok(await data.ListDatasetsAsync(ct)))
            .WithName("ListDatasets")
            .WithSummary("List datasets")
            .WithDescription(
                "Every dataset, newest first, with its current schema version, row count and the dataset it was derived "
                + "from (`derivedFromId`, for one made by `MaterializeDataset`). Not paged.")
            .WithResponseExample(DataExamples.Summaries);

        group.MapGet(
            "/{id:long}",
            async (long id, IDataModule data, CancellationToken ct) => TypedResults.Ok(await data.GetDatasetAsync(id, ct)))
            .WithName("GetDataset")
            .WithSummary("Get a dataset")
            .WithDescription(
                "The dataset with its current columns and every schema version (`versions`, oldest first), its row count "
                + "and timestamps.")
            .WithResponseExample(DataExamples.Dataset)
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapPut("/{id:long}/schema", async (long id, UpdateSchemaRequest request, IDataModule data, CancellationToken ct) =>
            TypedResults.Ok(await data.UpdateSchemaAsync(id, request, ct)))
            .WithName("UpdateDatasetSchema")
            .WithSummary("Add a schema version")
            .WithDescription(
                "Adds a schema version with the `columns` given (the same rules as `CreateDataset`), which new imports are "
                + "validated against. Rows already stored are not revalidated: they keep the version they were stored "
                + "under and are read in the current columns, matched by name, converted where the type changed and null "
                + "where the column is new. Returns the dataset.")
            .WithRequestExample(DataExamples.UpdateRequest)
            .WithResponseExample(DataExamples.Dataset)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesValidationProblem();

        group.MapDelete("/{id:long}", async (long id, IDataModule data, CancellationToken ct) =>
        {
            await data.DeleteDatasetAsync(id, ct);
            return TypedResults.NoContent();
        }).WithName("DeleteDataset")
            .WithSummary("Delete a dataset")
            .WithDescription(
                "Deletes the dataset with its schema versions, imports and rows. It is gone for every reader at once; its "
                + "rows are purged in short transactions before the answer. Datasets derived from it and models trained "
                + "on it are kept. A second delete is a 404.")
            .RequireScope(ApiScopes.Admin)
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapPost("/{id:long}/rows", ImportRowsAsync)
            .WithName("ImportRows")
            .WithSummary("Import rows")
            .WithDescription(
                "Streams a file into the dataset: CSV with a header row, a JSON array of objects, NDJSON, Parquet or Arrow "
                + "IPC (file or stream), as the body with its `Content-Type`, or as the first file part of a "
                + "`multipart/form-data` body (its format from the part's content type or file name). `format` overrides "
                + "both. Every row is validated against the current schema, and the rows are stored in one commit: "
                + "readers see all of them or none.\n\n"
                + "With `onError=reject` (the default) one invalid row stores nothing: the answer is a **422** whose "
                + "`report` member is the import report (`status: rejected`, the row errors). With `onError=skip` the valid "
                + "rows are stored and the invalid ones listed in the 200 report (`errors`, 1-based data rows, at most "
                + "`Data:Import:MaxReportedErrors`; `errorCounts` counts all by reason). A malformed file (broken CSV or "
                + "JSON, invalid UTF-8) is a 400 and a file over `Data:Import:MaxUploadBytes`, `MaxRows` or `MaxFieldChars` "
                + "a 413; both store nothing.\n\n"
                + "Idempotent by import id: `importId`, or the `Idempotency-Key` header (not both). Repeating a committed "
                + "import's id returns its first report with `replayed: true` and stores no rows, whatever the body; a "
                + "rejected import is not recorded, so it can be retried with the same id. Runs in the request: no "
                + "workflow is started.")
            .WithResponseExample(DataExamples.Import)
            .WithIdempotencyKey()
            .Accepts<string>(AcceptedContentTypes[0], AcceptedContentTypes[1..])
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesValidationProblem();

        group.MapGet("/{id:long}/rows", async (
                long id,
                [Description("The `nextCursor` of the previous page (a row id); rows after it are returned. Omit for the first page.")]
                long? cursor,
                [Description("Rows per page, 1 to `Data:MaxPageSize` (1000 by default). Default 100.")] int? limit,
                IDataModule data,
                CancellationToken ct) =>
            TypedResults.Ok(await data.ReadRowsAsync(id, cursor, limit ?? 100, ct)))
            .WithName("ReadRows")
            .WithSummary("Read a page of rows")
            .WithDescription(
                "Rows in the order they were stored (by `rowId`), after `cursor`, at most `limit` of them, each with its "
                + "values by column name in the current schema's columns. Page by passing the answer's `nextCursor` as "
                + "`cursor`; `nextCursor` is null on the last page. Rows imported later appear on later pages. To read "
                + "everything at once use `ExportRows`.")
            .WithResponseExample(DataExamples.Page)
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapGet("/{id:long}/export", async (
                long id,
                [Description("`csv` (default), `json` or `parquet`.")] string? format,
                IDataModule data,
                CancellationToken ct) =>
        {
            var parsed = format?.ToLowerInvariant() switch
            {
                null or "csv" => ExportFormat.Csv,
                "json" => ExportFormat.Json,
                "parquet" => ExportFormat.Parquet,
                _ => throw ModuleException.Invalid("format", "format must be csv, json or parquet."),
            };
            var dataset = await data.GetDatasetAsync(id, ct);
            var (contentType, extension) = ExportMedia(parsed);
            return TypedResults.Stream(
                output => data.ExportAsync(id, parsed, output, ct),
                contentType,
                $"dataset-{dataset.Id}.{extension}");
        }).WithName("ExportRows")
            .WithSummary("Export every row")
            .WithDescription(
                "Streams every row of the dataset, in stored order and the current schema's columns, as an attachment "
                + "`dataset-<id>.<format>`: `csv` (the default; a header row, RFC 4180 quoting, CRLF line ends), `json` (an "
                + "array of objects) or `parquet` (row groups of `Data:ExportRowGroupRows` rows). The body is written as "
                + "the rows are read, so a failure after the first bytes ends the response early instead of giving an error "
                + "status.")
            .Produces(StatusCodes.Status200OK, null, "text/csv", "application/json", ParquetContentType)
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapPost("/{id:long}/query", async (
                long id,
                TransformRequest request,
                IDataModule data,
                IOptions<DataOptions> options,
                CancellationToken ct) =>
        {
            if (request.Limit < 1 || request.Limit > options.Value.MaxPageSize)
            {
                throw ModuleException.Invalid("limit", $"limit must be between 1 and {options.Value.MaxPageSize}.");
            }

            var stream = await data.OpenRowStreamAsync(id, request.Transforms, ct);
            var rows = new List<IReadOnlyDictionary<string, object?>>();
            await foreach (var row in stream.Rows.WithCancellation(ct))
            {
                rows.Add(stream.Columns.Select((c, i) => (c.Name, row[i])).ToDictionary(x => x.Name, x => x.Item2, StringComparer.Ordinal));
                if (rows.Count == request.Limit)
                {
                    break;
                }
            }

            return TypedResults.Ok(new QueryRowsResult(stream.Columns, rows));
        }).WithName("QueryRows")
            .WithSummary("Preview transformed rows")
            .WithDescription(
                "Applies `transforms` (in order: `rename`, `cast`, `fill`, `filter`, `derive`, `split`) to the dataset's "
                + "rows and returns the first `limit` rows that come out (1 to `Data:MaxPageSize`, 100 by default) with the "
                + "columns after the transforms. Nothing is stored and there is no cursor: use `MaterializeDataset` to keep "
                + "the result. The transforms are checked before any row is read (unknown columns, types, expressions are a "
                + "400); a fill by `mean` or `mode` reads the whole dataset first, and is a **422** when the column has no "
                + "value to compute it from.")
            .WithRequestExample(DataExamples.QueryRequest)
            .WithResponseExample(DataExamples.QueryResult)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesValidationProblem();

        group.MapPost("/{id:long}/materialize", async Task<Created<DatasetDetails>> (
                long id,
                MaterializeRequest request,
                IDataModule data,
                CancellationToken ct) =>
        {
            var created = await data.MaterializeAsync(id, request, ct);
            return TypedResults.Created($"/api/v1/datasets/{created.Id}", created);
        }).WithName("MaterializeDataset")
            .WithSummary("Materialize transformed rows as a new dataset")
            .WithDescription(
                "Applies `transforms` (as `QueryRows` does; an empty list copies the dataset) to every row and stores the "
                + "output as a new dataset named `name`, with schema version 1 in the columns after the transforms, "
                + "`derivedFromId` set, and `requireLabel` and (unless given) a description taken from the source. "
                + "`Location` names the new dataset. When the copy fails the new dataset is deleted. Runs in the request: "
                + "no workflow is started. **409** when a dataset with this name already exists; **422** as for `QueryRows`.")
            .WithRequestExample(DataExamples.MaterializeRequest)
            .WithResponseExample(DataExamples.Materialized, StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesValidationProblem();

        group.MapPost("/{id:long}/validate-input", async (
                long id,
                Dictionary<string,
                JsonElement> input,
                IDataModule data,
                CancellationToken ct) =>
            TypedResults.Ok(await data.ValidatePredictionInputAsync(id, input, ct)))
            .WithName("ValidatePredictionInput")
            .WithSummary("Check a prediction input against the schema")
            .WithDescription(
                "Checks one input object (column name to JSON value) against the dataset's current schema with the import "
                + "rules, and answers 200 either way: `isValid`, every problem in `errors` (an unknown name is "
                + "`unknownColumn`), and, when valid, the typed values of the feature columns in `features`. Feature "
                + "columns are required unless nullable; label, id and ignore columns may be given and are not returned. "
                + "Nothing is stored.")
            .WithRequestExample(DataExamples.PredictionInput)
            .WithResponseExample(DataExamples.Validation)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        group.MapGet("/{id:long}/entities/{entityId}", async Task<Results<Ok<DataRow>, NotFound>> (
                long id,
                string entityId,
                IDataModule data,
                CancellationToken ct) =>
            await data.FindRowByEntityIdAsync(id, entityId, ct) is { } row ? TypedResults.Ok(row) : TypedResults.NotFound())
            .WithName("FindRowByEntityId")
            .WithSummary("Find the latest row of an entity")
            .WithDescription(
                "The most recently stored row whose `id`-role column equals `entityId` (compared as text), in the current "
                + "schema's columns. 404 when the dataset does not exist or no row has this id; **422** when the dataset "
                + "has no column with the role `id`.")
            .WithResponseExample(DataExamples.Row)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        group.MapPost("/infer-schema", async (
                HttpContext http,
                [Description(FormatDescription)] string? format,
                [Description(DelimiterDescription)] string? delimiter,
                IDataModule data,
                IOptions<DataOptions> options,
                CancellationToken ct) =>
        {
            var (body, detected) = await OpenUploadAsync(http, format, options.Value);
            return TypedResults.Ok(await data.InferSchemaAsync(body, detected, ParseDelimiter(delimiter), ct));
        }).WithName("InferSchema")
            .WithSummary("Infer a schema from a sample")
            .WithDescription(
                "Proposes columns from a sample file, sent as `ImportRows` takes it (any of its formats, or multipart): "
                + "the narrowest type every non-empty value of the first `Data:InferSampleRows` rows parses as (boolean, "
                + "numeric, datetime), else categorical when values repeat and text when they do not; nullable when a "
                + "value is missing; the role `id` for a unique column named `id` or `..._id`, and `label` for one named "
                + "`label`, `target`, `class`, `y` or `outcome`. Review it, then pass the columns to `CreateDataset`. "
                + "Nothing is stored.")
            .WithResponseExample(DataExamples.Inferred)
            .Accepts<string>(AcceptedContentTypes[0], AcceptedContentTypes[1..])
            .ProducesValidationProblem();
    }

    private static async Task<Results<Ok<ImportReport>, ProblemHttpResult>> ImportRowsAsync(
        long id,
        HttpContext http,
        [Description(FormatDescription)] string? format,
        [Description("The client's name for this import (1 to 200 characters): repeating it replays the first committed import. "
            + "Defaults to the Idempotency-Key, scoped to the API key, or a new id.")]
        string? importId,
        [Description("`reject` (default): any invalid row stores nothing (422). `skip`: store the valid rows, report the others.")]
        string? onError,
        [Description(DelimiterDescription)] string? delimiter,
        IDataModule data,
        IOptions<DataOptions> options,
        CancellationToken ct)
    {
        var mode = onError?.ToLowerInvariant() switch
        {
            null or "reject" => ImportErrorMode.Reject,
            "skip" => ImportErrorMode.Skip,
            _ => throw ModuleException.Invalid("onError", "onError must be reject or skip."),
        };
        // importId is the client's own name for the import, shown in the report and rows; the Idempotency-Key header
        // is the caller's key, so it names the import scoped to the API key. Giving both is ambiguous.
        if (importId is not null && http.Request.Headers.ContainsKey(IdempotencyKey.Header))
        {
            throw ModuleException.Invalid(
                "importId",
                $"Give the import id as importId or as the {IdempotencyKey.Header} header, not both.");
        }

        importId ??= IdempotencyKey.Read(http)?.Scoped("import");
        var (body, detected) = await OpenUploadAsync(http, format, options.Value);
        var report = await data.ImportRowsAsync(id, body, new ImportOptions(detected, importId, mode, ParseDelimiter(delimiter)), ct);
        if (report.Status == ImportStatus.Committed)
        {
            return TypedResults.Ok(report);
        }

        return TypedResults.Problem(
            detail: $"{report.RowsRejected} of {report.RowsRead} rows failed validation and onError is reject, so nothing was stored. "
                + "Fix the rows or retry with onError=skip.",
            statusCode: StatusCodes.Status422UnprocessableEntity,
            title: "Unprocessable Entity",
            extensions: new Dictionary<string, object?> { ["report"] = report });
    }

    /// <summary>The upload stream (the body, or the first file part of a multipart form) and its format.</summary>
    private static async Task<(Stream Body, ImportFormat Format)> OpenUploadAsync(HttpContext http, string? format, DataOptions options)
    {
        // Upload endpoints raise the host's default body limit to the module's own; LimitedReadStream enforces it too.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = options.Import.MaxUploadBytes;
        }

        var explicitFormat = ParseFormat(format);
        if (MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var mediaType)
            && mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value;
            if (string.IsNullOrEmpty(boundary))
            {
                throw ModuleException.Invalid("content", "The multipart body has no boundary.");
            }

            var reader = new MultipartReader(boundary, http.Request.Body) { BodyLengthLimit = options.Import.MaxUploadBytes };
            MultipartSection? section;
            try
            {
                while ((section = await reader.ReadNextSectionAsync(http.RequestAborted)) is not null)
                {
                    if (ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                        && disposition.IsFileDisposition())
                    {
                        var fileName = HeaderUtilities.RemoveQuotes(disposition.FileName).Value ?? "";
                        var detected = explicitFormat ?? FromContentType(section.ContentType) ?? FromFileName(fileName)
                            ?? throw ModuleException.Invalid(
                                "format",
                                $"Cannot tell the format of the file part '{fileName}': give it a .csv, .json, .ndjson, .parquet, "
                                + ".arrow or .arrows name or content type, or pass format=.");
                        return (new MultipartPartStream(section.Body), detected);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException)
            {
                throw MultipartPartStream.Malformed(ex);
            }

            throw ModuleException.Invalid("content", "The multipart body has no file part.");
        }

        var bodyFormat = explicitFormat ?? FromContentType(http.Request.ContentType)
            ?? throw ModuleException.UnsupportedContentType(
                $"The Content-Type '{http.Request.ContentType}' is not an upload format. Send one of "
                + $"{string.Join(", ", AcceptedContentTypes)} (multipart/form-data with a file part), "
                + "or pass format=csv|json|ndjson|parquet|arrow.",
                AcceptedContentTypes);
        return (http.Request.Body, bodyFormat);
    }

    private static ImportFormat? ParseFormat(string? format) => format?.ToLowerInvariant() switch
    {
        null => null,
        "csv" => ImportFormat.Csv,
        "json" => ImportFormat.Json,
        "ndjson" or "jsonl" => ImportFormat.Ndjson,
        "parquet" => ImportFormat.Parquet,
        "arrow" or "feather" or "ipc" => ImportFormat.Arrow,
        _ => throw ModuleException.Invalid("format", "format must be csv, json, ndjson, parquet or arrow."),
    };

    /// <summary>The Content-Type and file extension of an export.</summary>
    private static (string ContentType, string Extension) ExportMedia(ExportFormat format) => format switch
    {
        ExportFormat.Json => ("application/json; charset=utf-8", "json"),
        ExportFormat.Parquet => (ParquetContentType, "parquet"),
        _ => ("text/csv; charset=utf-8", "csv"),
    };

    private static ImportFormat? FromContentType(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media) || media.MediaType.Value is not { } type)
        {
            return null;
        }

        return type.ToLowerInvariant() switch
        {
            "text/csv" or "application/csv" => ImportFormat.Csv,
            "application/json" => ImportFormat.Json,
            "application/x-ndjson" or "application/ndjson" or "application/jsonl" or "application/x-jsonlines" => ImportFormat.Ndjson,
            ParquetContentType or "application/x-parquet" or "application/parquet" => ImportFormat.Parquet,
            "application/vnd.apache.arrow.file" or "application/vnd.apache.arrow.stream" or "application/x-arrow" => ImportFormat.Arrow,
            _ => null,
        };
    }

    private static ImportFormat? FromFileName(string name) => Path.GetExtension(name).ToLowerInvariant() switch
    {
        ".csv" => ImportFormat.Csv,
        ".json" => ImportFormat.Json,
        ".ndjson" or ".jsonl" => ImportFormat.Ndjson,
        ".parquet" or ".pq" => ImportFormat.Parquet,
        ".arrow" or ".arrows" or ".feather" or ".ipc" => ImportFormat.Arrow,
        _ => null,
    };

    private static char ParseDelimiter(string? delimiter) => delimiter switch
    {
        null or "" => ',',
        "tab" or "\\t" or "\t" => '\t',
        { Length: 1 } => delimiter[0],
        _ => throw ModuleException.Invalid("delimiter", "delimiter must be a single character (or 'tab')."),
    };
}
