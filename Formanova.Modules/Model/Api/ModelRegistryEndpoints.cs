using System.Text.Json;
using System.Text.Json.Serialization;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model.Api;

internal sealed record SetAliasBody(string? Version);

internal sealed record AliasResponse(string Name, string Alias, string Version);

/// <summary>The metadata part of an upload: the schema and task the zip was trained for.</summary>
internal sealed record UploadMetadata(
    string? Version,
    ModelTask? Task,
    List<ModelColumn>? Columns,
    string? Trainer,
    Dictionary<string, string>? Tags,
    string? Notes,
    ModelLineage? Lineage,
    Dictionary<string, double>? Metrics);

internal static class ModelRegistryEndpoints
{
    private static readonly JsonSerializerOptions MetadataJson = new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
        // Strict like the JSON bodies: a misspelt field is an error, not a silent default.
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    }.AddInputRules();

    public static IEndpointRouteBuilder MapModelRegistryEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var models = endpoints.MapGroup("/models").WithTags("Models");

        models.MapGet("", async (IModelModule module, CancellationToken ct) => TypedResults.Ok(await module.ListModelsAsync(ct)))
            .WithName("ListModels");

        models.MapGet(
            "/{name}",
            async (string name, IModelModule module, CancellationToken ct) => TypedResults.Ok(await module.GetModelAsync(name, ct)))
            .WithName("GetModel");

        models.MapGet("/{name}/versions/{version}", async (string name, string version, IModelModule module, CancellationToken ct) =>
            TypedResults.Ok(await module.GetVersionAsync(name, version, ct)))
            .WithName("GetModelVersion");

        models.MapPost("/{name}/versions/{version}/activate", async (
                string name,
                string version,
                IModelModule module,
                CancellationToken ct) =>
            TypedResults.Ok(await module.ActivateAsync(name, version, ct)))
            .WithName("ActivateModelVersion")
            .RequireScope(ApiScopes.Admin);

        models
            .MapPost("/{name}/versions/{version}/archive", async (string name, string version, IModelModule module, CancellationToken ct) =>
                TypedResults.Ok(await module.ArchiveAsync(name, version, ct)))
            .WithName("ArchiveModelVersion")
            .RequireScope(ApiScopes.Admin);

        models.MapPut("/{name}/aliases/{alias}", async (
                string name,
                string alias,
                SetAliasBody body,
                IModelModule module,
                CancellationToken ct) =>
        {
            if (string.IsNullOrWhiteSpace(body.Version))
            {
                throw ModuleException.Invalid("version", "The version the alias points at is required.");
            }

            await module.SetAliasAsync(name, alias, body.Version, ct);
            var version = await module.GetVersionAsync(name, body.Version, ct);
            return TypedResults.Ok(new AliasResponse(version.Name, alias.Trim().ToLowerInvariant(), version.Version));
        }).WithName("SetModelAlias").RequireScope(ApiScopes.Admin);

        models.MapDelete("/{name}/versions/{version}", async (string name, string version, IModelModule module, CancellationToken ct) =>
        {
            await module.DeleteVersionAsync(name, version, ct);
            return TypedResults.NoContent();
        }).WithName("DeleteModelVersion").RequireScope(ApiScopes.Admin);

        models
            .MapGet("/{name}/versions/{version}/download", async (string name, string version, IModelModule module, CancellationToken ct) =>
                {
                    var info = await module.GetVersionAsync(name, version, ct);
                    var stream = await module.OpenArtifactAsync(name, version, ct);
                    return TypedResults.File(stream, "application/zip", $"{info.Name}-{info.Version}.zip");
                })
            .WithName("DownloadModelVersion");

        models.MapPost("/{name}/versions", UploadAsync)
            .WithName("UploadModelVersion")
            .DisableAntiforgery()
            .Accepts<IFormFile>("multipart/form-data");

        return endpoints;
    }

    /// <summary>Multipart: a <c>model</c> file (an ML.NET zip) and a <c>metadata</c> JSON field (version, task, columns, ...).</summary>
    private static async Task<Created<ModelVersionInfo>> UploadAsync(
        string name,
        HttpContext context,
        IModelModule module,
        CancellationToken ct)
    {
        var limit = context.RequestServices.GetRequiredService<IOptions<ModelOptions>>().Value.Upload.MaxBytes;
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = limit;
        }

        if (context.Request.ContentLength > limit)
        {
            throw new ModuleException(ErrorKind.TooLarge, $"An upload takes at most {limit} bytes (Model:Upload:MaxBytes).");
        }

        if (!context.Request.HasFormContentType)
        {
            throw ModuleException.UnsupportedContentType(
                "Send multipart/form-data with a 'model' file (ML.NET zip) and a 'metadata' JSON field.");
        }

        IFormCollection form;
        try
        {
            context.Features.Set<IFormFeature>(new FormFeature(context.Request, new FormOptions { MultipartBodyLengthLimit = limit }));
            form = await context.Request.ReadFormAsync(ct);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            // A body over the limit is refused by the transport (413) before this; what is left is a broken form,
            // such as one that ends before its closing boundary.
            throw ModuleException.Invalid("model", "The multipart body is malformed: it ends early or a part is broken.");
        }

        var file = form.Files.GetFile("model");
        var errors = new Dictionary<string, string[]>();
        if (file is null || file.Length == 0)
        {
            errors["model"] = ["A non-empty 'model' file part (the ML.NET model zip) is required."];
        }

        UploadMetadata? metadata = null;
        var json = form["metadata"].ToString();
        if (string.IsNullOrWhiteSpace(json))
        {
            errors["metadata"] = ["A 'metadata' JSON field with version, task and columns is required."];
        }
        else
        {
            try
            {
                metadata = JsonSerializer.Deserialize<UploadMetadata>(json, MetadataJson);
            }
            catch (JsonException ex)
            {
                var problem = JsonProblem.Of(ex, MetadataJson.GetTypeInfo(typeof(UploadMetadata)));
                errors["metadata"] = [$"The metadata is not valid JSON for this endpoint at '{problem.Path}': {problem.Reason}"];
            }
        }

        if (metadata is not null)
        {
            if (metadata.Task is null)
            {
                errors["metadata.task"] = ["The task is required (binaryClassification, multiclassClassification or regression)."];
            }

            if (metadata.Columns is null || metadata.Columns.Count == 0)
            {
                errors["metadata.columns"] = ["The feature columns the model takes are required."];
            }
        }

        if (errors.Count > 0 || metadata is null)
        {
            throw new ModuleException(ErrorKind.Invalid, "The upload is incomplete.", errors);
        }

        await using var zip = file!.OpenReadStream();
        var info = await module.RegisterAsync(
            new RegisterModelRequest(name, metadata.Version ?? "", metadata.Task!.Value, metadata.Columns!, metadata.Trainer ?? "uploaded",
                metadata.Lineage, metadata.Tags, metadata.Notes, metadata.Metrics),
            zip,
            ct);
        return TypedResults.Created($"/api/v1/models/{info.Name}/versions/{info.Version}", info);
    }
}
