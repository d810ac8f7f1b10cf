using FluentValidation;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Formanova.Modules.Model.Api;

internal sealed record SetAliasBody(string? Version);

internal sealed record AliasResponse(string Name, string Alias, string Version);

internal static class ModelRegistryEndpoints
{
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
            await module.SetAliasAsync(name, alias, body.Version!, ct);
            var version = await module.GetVersionAsync(name, body.Version!, ct);
            return TypedResults.Ok(new AliasResponse(version.Name, alias.Trim().ToLowerInvariant(), version.Version));
        }).WithName("SetModelAlias").RequireScope(ApiScopes.Admin);

        models.MapDelete("/{name}/versions/{version}", async (string name, string version, IModelModule module, CancellationToken ct) =>
        {
            await module.DeleteVersionAsync(name, version, ct);
            return TypedResults.NoContent();
        }).WithName("DeleteModelVersion").RequireScope(ApiScopes.Admin).ProducesProblem(StatusCodes.Status409Conflict);

        models
            .MapGet("/{name}/versions/{version}/download", async (string name, string version, IModelModule module, CancellationToken ct) =>
                {
                    var info = await module.GetVersionAsync(name, version, ct);
                    var stream = await module.OpenArtifactAsync(name, version, ct);
                    return TypedResults.File(stream, "application/zip", $"{info.Name}-{info.Version}.zip");
                })
            .WithName("DownloadModelVersion")
            .Produces<Stream>(StatusCodes.Status200OK, "application/zip");

        models.MapPost("/{name}/versions", UploadAsync)
            .WithName("UploadModelVersion")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .DisableAntiforgery()
            .Accepts<IFormFile>("multipart/form-data");

        return endpoints;
    }

    /// <summary>Multipart: a <c>model</c> file (an ML.NET zip) and a <c>metadata</c> JSON field (version, task, columns, ...).</summary>
    private static async Task<Created<ModelVersionInfo>> UploadAsync(
        string name,
        ModelUpload upload,
        IModelModule module,
        CancellationToken ct)
    {
        // ModelUploadValidator has checked the parts before this runs.
        var metadata = upload.Metadata!;
        await using var zip = upload.Model!.OpenReadStream();
        var info = await module.RegisterAsync(
            new RegisterModelRequest(name, metadata.Version ?? "", metadata.Task!.Value, metadata.Columns!, metadata.Trainer ?? "uploaded",
                metadata.Lineage, metadata.Tags, metadata.Notes, metadata.Metrics),
            zip,
            ct);
        return TypedResults.Created($"/api/v1/models/{info.Name}/versions/{info.Version}", info);
    }
}

internal sealed class SetAliasBodyValidator : AbstractValidator<SetAliasBody>
{
    public SetAliasBodyValidator() => RuleFor(b => b.Version).NotEmpty().WithMessage("The version the alias points at is required.");
}
