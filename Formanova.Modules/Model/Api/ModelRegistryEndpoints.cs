using FluentValidation;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Formanova.Modules.Model.Api;

internal sealed record SetAliasBody(string? Version);

internal sealed record AliasResponse(string Name, string Alias, string Version);

/// <summary>An ensemble of existing versions (docs/model.md, "Ensembles"); <see cref="Combiner"/> defaults to average.</summary>
internal sealed record RegisterEnsembleBody(
    string? Version,
    List<EnsembleMemberSpec>? Members,
    EnsembleCombiner? Combiner = null,
    Dictionary<string, string>? Tags = null,
    string? Notes = null);

internal static class ModelRegistryEndpoints
{
    public static IEndpointRouteBuilder MapModelRegistryEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var models = endpoints.MapGroup("/models").WithTags("Model registry");

        models.MapGet("", async (IModelModule module, CancellationToken ct) => TypedResults.Ok(await module.ListModelsAsync(ct)))
            .WithName("ListModels")
            .WithSummary("List models")
            .WithDescription(
                "Every model in the registry, by name, with its task, active version (null when none is active), number of "
                + "versions, latest semantic version and aliases (alias to version). Not paged.")
            .WithResponseExample(ModelExamples.Summaries);

        models.MapGet(
            "/{name}",
            async (string name, IModelModule module, CancellationToken ct) => TypedResults.Ok(await module.GetModelAsync(name, ct)))
            .WithName("GetModel")
            .WithSummary("Get a model and its versions")
            .WithDescription(
                "The model's active version, aliases and every version (any status), newest semantic version first, each "
                + "with its schema, metrics, lineage and aliases. Names are matched case-insensitively (they are stored in "
                + "lower case, NFKC). 404 when the model has no version.")
            .WithResponseExample(ModelExamples.Details);

        models.MapGet("/{name}/versions/{version}", async (string name, string version, IModelModule module, CancellationToken ct) =>
            TypedResults.Ok(await module.GetVersionAsync(name, version, ct)))
            .WithName("GetModelVersion")
            .WithSummary("Get a model version")
            .WithDescription(
                "One version: status, columns, metrics, tags, lineage, aliases, the input contract of a trained version and, "
                + "when the service trained it, the training `report` (left out for an uploaded version). `version` is a "
                + "semantic version (`1.2.0`, `1.2.0-rc.1`; a leading `v` is accepted).")
            .WithResponseExample(ModelExamples.Active);

        models.MapPost("/{name}/versions/{version}/activate", async (
                string name,
                string version,
                IModelModule module,
                CancellationToken ct) =>
            TypedResults.Ok(await module.ActivateAsync(name, version, ct)))
            .WithName("ActivateModelVersion")
            .WithSummary("Activate a model version")
            .WithDescription(
                "Makes the version the one that answers predictions naming no version or alias; the previously active "
                + "version goes back to `registered`. An archived version can be activated again. Predictions already "
                + "running finish on the old version; other instances switch within `Model:Inference:RegistryRefreshSeconds`. "
                + "Runs in the request: the version is loaded and probed first (`Model:Preload:Enabled`), so the first "
                + "prediction after the switch does not pay the load; one that fails to load is still activated, with a "
                + "warning logged, and predictions fall back to the previous stable version. Emits no event: "
                + "`PromoteModelVersion` starts the promotion saga, which checks, warms, switches and smoke-tests, and "
                + "rolls back on failure. "
                + "**409** when the version is marked failed, or another activation of the model ran at the same moment "
                + "(retry).")
            .WithResponseExample(ModelExamples.Active)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .RequireScope(ApiScopes.Admin);

        models
            .MapPost("/{name}/versions/{version}/archive", async (string name, string version, IModelModule module, CancellationToken ct) =>
                TypedResults.Ok(await module.ArchiveAsync(name, version, ct)))
            .WithName("ArchiveModelVersion")
            .WithSummary("Archive a model version")
            .WithDescription(
                "Sets the version's status to `archived` and unloads it. Its files stay, it can still be named by `version` "
                + "or an alias, and it can be activated again; a fallback never picks it. **409** when the version is the "
                + "active one: activate another version first.")
            .WithResponseExample(ModelExamples.Previous with { Status = ModelVersionStatus.Archived })
            .ProducesProblem(StatusCodes.Status409Conflict)
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
        }).WithName("SetModelAlias")
            .WithSummary("Point an alias at a model version")
            .WithDescription(
                "Creates or moves the alias (`champion`, `challenger` or any valid name; stored in lower case) so that it "
                + "names `version`, whatever that version's status. Predictions and batch jobs can then name the alias "
                + "instead of a version; other instances follow within `Model:Inference:RegistryRefreshSeconds`. Setting "
                + "the same alias again is harmless. 404 when the model or version does not exist.")
            .WithRequestExample(new SetAliasBody("1.3.0"))
            .WithResponseExample(new AliasResponse("churn", "champion", "1.3.0"))
            .RequireScope(ApiScopes.Admin);

        models.MapDelete("/{name}/versions/{version}", async (string name, string version, IModelModule module, CancellationToken ct) =>
        {
            await module.DeleteVersionAsync(name, version, ct);
            return TypedResults.NoContent();
        }).WithName("DeleteModelVersion")
            .WithSummary("Delete a model version")
            .WithDescription(
                "Deletes the version for good: its registry row, the aliases that name it, its files in the artifact store "
                + "and its loaded engines. A second delete is a 404. "
                + "**409** when the version is the active one: activate another version first.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .RequireScope(ApiScopes.Admin);

        models
            .MapGet("/{name}/versions/{version}/download", async (string name, string version, IModelModule module, CancellationToken ct) =>
                {
                    var info = await module.GetVersionAsync(name, version, ct);
                    var stream = await module.OpenArtifactAsync(name, version, ct);
                    return TypedResults.File(stream, "application/zip", $"{info.Name}-{info.Version}.zip");
                })
            .WithName("DownloadModelVersion")
            .WithSummary("Download a model version's artifact")
            .WithDescription(
                "The version's ML.NET model zip (`model.zip`), as `application/zip` named `<name>-<version>.zip`, checked "
                + "against its registered SHA-256 (`sha256` of the version) before it is sent. Load it with ML.NET's "
                + "`mlContext.Model.Load`. 503 when the artifact is missing or corrupt and the artifact store has no good copy.")
            .Produces(StatusCodes.Status200OK, null, "application/zip");

        models
            .MapGet("/{name}/versions/{version}/onnx", async (string name, string version, IModelModule module, CancellationToken ct) =>
                {
                    var info = await module.GetVersionAsync(name, version, ct);
                    var stream = await module.ExportOnnxAsync(name, version, ct);
                    return TypedResults.File(stream, "application/octet-stream", $"{info.Name}-{info.Version}.onnx");
                })
            .WithName("ExportModelVersionOnnx")
            .WithSummary("Export a model version as ONNX")
            .WithDescription(
                "The version as an ONNX graph, as `application/octet-stream` named `<name>-<version>.onnx`. An ONNX version "
                + "returns its file as uploaded. An ML.NET version is converted by ML.NET's ONNX converter the first time "
                + "(one input per feature column, named as the column; outputs `PredictedLabel.output`, `Score.output` and "
                + "`Probability.output`), with `formanova.task`, `formanova.columns`, `formanova.signature`, "
                + "`formanova.inputContract` and `formanova.source` in the graph's `metadata_props`, so the file uploads "
                + "back with only a `version`; the conversion is kept beside the artifact and served from there. "
                + "**409** naming the transform and column (`transform`, `column`) when the pipeline has a step the "
                + "converter cannot convert, such as `FeaturizeText` on a text column. 503 when the artifact is missing "
                + "or corrupt and the artifact store has no good copy.")
            .Produces(StatusCodes.Status200OK, null, "application/octet-stream")
            .ProducesProblem(StatusCodes.Status409Conflict);

        models.MapPost("/{name}/versions", UploadAsync)
            .WithName("UploadModelVersion")
            .WithSummary("Upload a model version")
            .WithDescription(
                "Registers an ML.NET model zip or an ONNX model trained elsewhere as a new version of the model (created "
                + "with its first version). Send `multipart/form-data` with a `model` file part and a `metadata` field holding "
                + "JSON: `version` (semantic version), `task`, `columns` (the schema the model was trained on, the label marked "
                + "`isLabel`), and optionally `trainer` (default `uploaded`), `tags`, `notes`, `lineage` and `metrics`. A file "
                + "beginning `PK` is an ML.NET zip, anything else an ONNX model (`framework` in the metadata overrides). For "
                + "ONNX, `signature` maps the graph's input tensors to the columns and its outputs to label, score and "
                + "probabilities; `task`, `columns` and `signature` may be left out where the graph, or the Formanova metadata "
                + "of an exported graph, says enough (docs/model.md). The model must load and answer a probe row before "
                + "anything is stored. The version is `registered`, not active; `Location` names it. At most "
                + "`Model:Upload:MaxBytes` (100 MiB by default; more is a 413). **400** naming the field when the metadata "
                + "or signature is wrong or missing; **409** when the model already has this version; **422** when the file "
                + "does not load, fails on the probe row, or its outputs do not fit the task.")
            .DisableAntiforgery()
            .Accepts<ModelUploadForm>("multipart/form-data")
            .WithResponseExample(ModelExamples.Uploaded, StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        models.MapPost("/{name}/ensembles", async (string name, RegisterEnsembleBody body, IModelModule module, CancellationToken ct) =>
            {
                var info = await module.RegisterEnsembleAsync(
                    new RegisterEnsembleRequest(
                        name,
                        body.Version!,
                        new EnsembleSpec([.. body.Members!], body.Combiner ?? EnsembleCombiner.Average),
                        body.Tags,
                        body.Notes),
                    ct);
                return TypedResults.Created($"/api/v1/models/{info.Name}/versions/{info.Version}", info);
            })
            .WithName("RegisterEnsemble")
            .WithSummary("Register an ensemble of model versions")
            .WithDescription(
                "Registers a version (framework `ensemble`) whose `members` are other versions, of this model or others, "
                + "each named by `model` and `version` or `alias` (neither: the model's active version); an alias or the "
                + "active version is resolved now and pinned, so the ensemble never changes under its callers. `combiner` "
                + "`average` (the default) averages regression values or class probabilities (soft voting); `weighted` "
                + "does so with each member's `weight`. A `stacking` ensemble is trained instead: a training run with "
                + "`ensemble`. The ensemble takes the union of its members' columns; it is served, aliased, activated, "
                + "cached and batch-scored like any version, and a prediction with `includeMembers: true` lists each "
                + "member's answer. **400** naming the field (`members[1].version`, `members[0].weight`, `combiner`) when "
                + "a member is missing or failed, has another task or class set, takes a shared column as another kind, "
                + "or is the ensemble itself, when a weight is missing or not positive, or with fewer than 2 or more than "
                + "8 members: nothing is stored then. **409** when the model already has this version; **422** when a "
                + "member does not load.")
            .WithRequestExample(new RegisterEnsembleBody(
                "3.0.0",
                [new EnsembleMemberSpec("churn", "1.2.0", Weight: 2), new EnsembleMemberSpec("churn-usage", Alias: "champion", Weight: 1)],
                EnsembleCombiner.Weighted))
            .WithResponseExample(ModelExamples.Ensemble, StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        return endpoints;
    }

    /// <summary>Multipart: a <c>model</c> file (an ML.NET zip or an ONNX model) and a <c>metadata</c> JSON field.</summary>
    private static async Task<Created<ModelVersionInfo>> UploadAsync(
        string name,
        ModelUpload upload,
        IModelModule module,
        CancellationToken ct)
    {
        // ModelUploadValidator has checked the parts before this runs.
        var metadata = upload.Metadata!;
        var framework = upload.Framework;
        await using var file = upload.Model!.OpenReadStream();
        var info = framework == ModelFramework.Onnx
            ? await module.RegisterOnnxAsync(
                new RegisterOnnxRequest(name, metadata.Version ?? "", metadata.Task, metadata.Columns, metadata.Signature,
                    metadata.Trainer ?? "uploaded", metadata.Lineage, metadata.Tags, metadata.Notes, metadata.Metrics),
                file,
                ct)
            : await module.RegisterAsync(
                new RegisterModelRequest(name, metadata.Version ?? "", metadata.Task!.Value, metadata.Columns!,
                    metadata.Trainer ?? "uploaded", metadata.Lineage, metadata.Tags, metadata.Notes, metadata.Metrics),
                file,
                ct);
        return TypedResults.Created($"/api/v1/models/{info.Name}/versions/{info.Version}", info);
    }
}

internal sealed class RegisterEnsembleBodyValidator : AbstractValidator<RegisterEnsembleBody>
{
    public RegisterEnsembleBodyValidator()
    {
        RuleFor(b => b.Version).NotEmpty().WithMessage("The ensemble's version is required.");
        RuleFor(b => b.Members).NotEmpty().WithMessage("The members are required: 2 to 8 versions, each by model and version or alias.");
    }
}

internal sealed class SetAliasBodyValidator : AbstractValidator<SetAliasBody>
{
    public SetAliasBodyValidator() => RuleFor(b => b.Version).NotEmpty().WithMessage("The version the alias points at is required.");
}
