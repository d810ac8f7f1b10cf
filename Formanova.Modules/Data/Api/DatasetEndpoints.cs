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

    public static void Map(IEndpointRouteBuilder api)
    {
        var group = api.MapGroup("/datasets").WithTags("Datasets");

        group.MapPost("/", async Task<Created<DatasetDetails>> (CreateDatasetRequest request, IDataModule data, CancellationToken ct) =>
        {
            var created = await data.CreateDatasetAsync(request, ct);
            return TypedResults.Created($"/api/v1/datasets/{created.Id}", created);
        }).WithName("CreateDataset").ProducesProblem(StatusCodes.Status409Conflict).ProducesValidationProblem();

        group.MapGet("/", async (IDataModule data, CancellationToken ct) => TypedResults.Ok(await data.ListDatasetsAsync(ct)))
            .WithName("ListDatasets");

        group.MapGet(
            "/{id:long}",
            async (long id, IDataModule data, CancellationToken ct) => TypedResults.Ok(await data.GetDatasetAsync(id, ct)))
            .WithName("GetDataset").ProducesProblem(StatusCodes.Status404NotFound);

        group.MapPut("/{id:long}/schema", async (long id, UpdateSchemaRequest request, IDataModule data, CancellationToken ct) =>
            TypedResults.Ok(await data.UpdateSchemaAsync(id, request, ct)))
            .WithName("UpdateDatasetSchema").ProducesProblem(StatusCodes.Status404NotFound).ProducesValidationProblem();

        group.MapDelete("/{id:long}", async (long id, IDataModule data, CancellationToken ct) =>
        {
            await data.DeleteDatasetAsync(id, ct);
            return TypedResults.NoContent();
        }).WithName("DeleteDataset").RequireScope(ApiScopes.Admin).ProducesProblem(StatusCodes.Status404NotFound);

        group.MapPost("/{id:long}/rows", ImportRowsAsync)
            .WithName("ImportRows")
            .WithIdempotencyKey()
            .Accepts<string>(AcceptedContentTypes[0], AcceptedContentTypes[1..])
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesValidationProblem();

        group.MapGet("/{id:long}/rows", async (long id, long? cursor, int? limit, IDataModule data, CancellationToken ct) =>
            TypedResults.Ok(await data.ReadRowsAsync(id, cursor, limit ?? 100, ct)))
            .WithName("ReadRows").ProducesProblem(StatusCodes.Status404NotFound);

        group.MapGet("/{id:long}/export", async (long id, string? format, IDataModule data, CancellationToken ct) =>
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
        }).WithName("ExportRows").ProducesProblem(StatusCodes.Status404NotFound)
            .Produces<object>(StatusCodes.Status200OK, "text/csv", "application/json", ParquetContentType);

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

            return TypedResults.Ok(new { columns = stream.Columns, rows });
        }).WithName("QueryRows").ProducesProblem(StatusCodes.Status404NotFound).ProducesValidationProblem();

        group.MapPost("/{id:long}/materialize", async Task<Created<DatasetDetails>> (
                long id,
                MaterializeRequest request,
                IDataModule data,
                CancellationToken ct) =>
        {
            var created = await data.MaterializeAsync(id, request, ct);
            return TypedResults.Created($"/api/v1/datasets/{created.Id}", created);
        }).WithName("MaterializeDataset").ProducesProblem(StatusCodes.Status404NotFound).ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status409Conflict);

        group.MapPost("/{id:long}/validate-input", async (
                long id,
                Dictionary<string,
                JsonElement> input,
                IDataModule data,
                CancellationToken ct) =>
            TypedResults.Ok(await data.ValidatePredictionInputAsync(id, input, ct)))
            .WithName("ValidatePredictionInput").ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        group.MapGet("/{id:long}/entities/{entityId}", async Task<Results<Ok<DataRow>, NotFound>> (
                long id,
                string entityId,
                IDataModule data,
                CancellationToken ct) =>
            await data.FindRowByEntityIdAsync(id, entityId, ct) is { } row ? TypedResults.Ok(row) : TypedResults.NotFound())
            .WithName("FindRowByEntityId").ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        group.MapPost("/infer-schema", async (
                HttpContext http,
                string? format,
                string? delimiter,
                IDataModule data,
                IOptions<DataOptions> options,
                CancellationToken ct) =>
        {
            var (body, detected) = await OpenUploadAsync(http, format, options.Value);
            return TypedResults.Ok(await data.InferSchemaAsync(body, detected, ParseDelimiter(delimiter), ct));
        }).WithName("InferSchema")
            .Accepts<string>(AcceptedContentTypes[0], AcceptedContentTypes[1..])
            .ProducesValidationProblem();
    }

    private static async Task<Results<Ok<ImportReport>, ProblemHttpResult>> ImportRowsAsync(
        long id,
        HttpContext http,
        string? format,
        string? importId,
        string? onError,
        string? delimiter,
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
