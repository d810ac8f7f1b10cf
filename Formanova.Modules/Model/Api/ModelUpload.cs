using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model.Api;

/// <summary>
/// The metadata part of an upload: the schema and task the model was trained for and, for an ONNX graph, the signature
/// mapping its tensors to the columns. <see cref="Framework"/> overrides what the file's first bytes say.
/// </summary>
internal sealed record UploadMetadata(
    string? Version,
    ModelTask? Task,
    List<ModelColumn>? Columns,
    string? Trainer,
    Dictionary<string, string>? Tags,
    string? Notes,
    ModelLineage? Lineage,
    Dictionary<string, double>? Metrics,
    ModelFramework? Framework = null,
    OnnxSignature? Signature = null);

/// <summary>
/// The parts of an upload's multipart form as the OpenAPI document shows them; <see cref="ModelUpload.BindAsync"/>
/// reads the form itself.
/// </summary>
internal sealed record ModelUploadForm(
    [property: Description("The ML.NET model zip, or the ONNX model.")] IFormFile Model,
    [property: Description(
        "JSON: version, task, columns, and optionally trainer, tags, notes, lineage and metrics; for an ONNX model also "
        + "signature and framework, and task and columns become optional where the graph says enough.")]
    string Metadata);

/// <summary>
/// A model upload as bound from its multipart form: a <c>model</c> file (an ML.NET zip or an ONNX model) and a
/// <c>metadata</c> JSON field. Binding reads the form within Model:Upload:MaxBytes; what it holds is checked by
/// <see cref="ModelUploadValidator"/>, on the same path as every JSON body.
/// </summary>
/// <param name="Model">The <c>model</c> file part, if any.</param>
/// <param name="Metadata">The <c>metadata</c> field, when it was given and is JSON of the right shape.</param>
/// <param name="MetadataError">Why the <c>metadata</c> field could not be read, when it was given but could not.</param>
internal sealed record ModelUpload(IFormFile? Model, UploadMetadata? Metadata, string? MetadataError)
{
    /// <summary>
    /// What the file is: <c>metadata.framework</c> when given, else ML.NET for a zip (it begins <c>PK</c>; no ONNX
    /// protobuf does, as no field of ModelProto has the number that byte would encode) and ONNX otherwise.
    /// </summary>
    public ModelFramework Framework => Metadata?.Framework ?? ((_startsLikeZip ??= StartsLikeZip(Model))
        ? ModelFramework.Mlnet
        : ModelFramework.Onnx);

    // Read once: the form file hands out one stream at a time.
    private bool? _startsLikeZip;

    private static readonly JsonSerializerOptions MetadataJson = new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
        // Strict like the JSON bodies: a misspelt field is an error, not a silent default.
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    }.AddInputRules();

    public static async ValueTask<ModelUpload> BindAsync(HttpContext context)
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
            form = await context.Request.ReadFormAsync(context.RequestAborted);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            // A body over the limit is refused by the transport (413) before this; what is left is a broken form,
            // such as one that ends before its closing boundary.
            throw ModuleException.Invalid("model", "The multipart body is malformed: it ends early or a part is broken.");
        }

        var json = form["metadata"].ToString();
        if (string.IsNullOrWhiteSpace(json))
        {
            return new ModelUpload(form.Files.GetFile("model"), null, null);
        }

        try
        {
            return new ModelUpload(form.Files.GetFile("model"), JsonSerializer.Deserialize<UploadMetadata>(json, MetadataJson), null);
        }
        catch (JsonException ex)
        {
            var problem = JsonProblem.Of(ex, MetadataJson.GetTypeInfo(typeof(UploadMetadata)));
            return new ModelUpload(
                form.Files.GetFile("model"),
                null,
                $"The metadata is not valid JSON for this endpoint at '{problem.Path}': {problem.Reason}");
        }
    }

    private static bool StartsLikeZip(IFormFile? file)
    {
        if (file is not { Length: >= 2 })
        {
            return false;
        }

        using var stream = file.OpenReadStream();
        Span<byte> head = stackalloc byte[2];
        return stream.ReadAtLeast(head, 2, throwOnEndOfStream: false) == 2 && head[0] == (byte)'P' && head[1] == (byte)'K';
    }
}

internal sealed class ModelUploadValidator : AbstractValidator<ModelUpload>
{
    public ModelUploadValidator()
    {
        RuleFor(u => u.Model).Must(file => file is { Length: > 0 })
            .WithMessage("A non-empty 'model' file part (the ML.NET model zip or the ONNX model) is required.");
        RuleFor(u => u.MetadataError).Null().OverridePropertyName("metadata").WithMessage(u => u.MetadataError);
        RuleFor(u => u.Metadata).NotNull().When(u => u.MetadataError is null)
            .WithMessage("A 'metadata' JSON field with version, task and columns is required.");

        RuleFor(u => u.Metadata!.Framework).NotEqual(ModelFramework.Ensemble).When(u => u.Metadata is not null)
            .WithMessage("An ensemble is registered from its members: POST /api/v1/models/{name}/ensembles.");

        RuleFor(u => u.Metadata!.Signature).Null().When(u => u.Metadata is not null && u.Framework == ModelFramework.Mlnet)
            .WithMessage("A signature maps an ONNX graph's tensors; an ML.NET zip takes its columns by name.");

        // An ONNX graph may say its task and columns itself (OnnxSignatures); a zip cannot.
        When(u => u.Metadata is not null && u.Framework == ModelFramework.Mlnet, () =>
        {
            RuleFor(u => u.Metadata!.Task).NotNull()
                .WithMessage("The task is required (binaryClassification, multiclassClassification or regression).");
            RuleFor(u => u.Metadata!.Columns).NotEmpty().WithMessage("The feature columns the model takes are required.");
        });
    }
}
