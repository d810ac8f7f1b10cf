using System.Text.Json;
using System.Text.Json.Serialization;

namespace Formanova.Modules.Model.Registry;

/// <summary>One row of model_versions (Dapper maps snake_case columns to these properties).</summary>
internal sealed class ModelVersionRow
{
    public long Id { get; set; }

    public string Name { get; set; } = "";

    public string Version { get; set; } = "";

    public string Task { get; set; } = "";

    public string Trainer { get; set; } = "";

    public string Status { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? ActivatedAt { get; set; }

    public string? RunId { get; set; }

    public string? DatasetId { get; set; }

    public string? DatasetVersion { get; set; }

    public string SchemaJson { get; set; } = "[]";

    public string MetricsJson { get; set; } = "{}";

    public string TagsJson { get; set; } = "{}";

    public string? Notes { get; set; }

    public string Sha256 { get; set; } = "";

    public long SizeBytes { get; set; }

    public string ArtifactStore { get; set; } = "";

    public string? FailureReason { get; set; }

    public long CacheGeneration { get; set; }

    /// <summary>The input contract (raw columns, frozen steps, date features); null for versions registered without one.</summary>
    public string? InputContractJson { get; set; }

    /// <summary>Written on registration only; the row queries leave it out (see ModelRegistry.FindReportAsync).</summary>
    public string? TrainingReportJson { get; set; }

    /// <summary>'mlnet', 'onnx' or 'ensemble' (<see cref="ModelFramework"/> in lower case).</summary>
    public string Framework { get; set; } = FrameworkText.Mlnet;

    /// <summary>The ONNX opset of the default domain; null for ML.NET versions.</summary>
    public int? Opset { get; set; }

    /// <summary>The ONNX signature (JSON <see cref="OnnxSignature"/>); null for ML.NET versions.</summary>
    public string? SignatureJson { get; set; }

    /// <summary>An ensemble's combiner and pinned members (JSON <see cref="EnsembleInfo"/>); null for other versions.</summary>
    public string? EnsembleJson { get; set; }

    public ModelFramework ModelFramework => FrameworkText.Parse(Framework);

    /// <summary>The stored ensemble manifest, parsed once per row instance.</summary>
    public EnsembleInfo? Ensemble => EnsembleJson is null
        ? null
        : _ensemble ??= JsonSerializer.Deserialize<EnsembleInfo>(EnsembleJson, RegistryJson.Options);

    private EnsembleInfo? _ensemble;

    /// <summary>The stored signature, parsed once per row instance.</summary>
    public OnnxSignature? Signature => SignatureJson is null
        ? null
        : _signature ??= JsonSerializer.Deserialize<OnnxSignature>(SignatureJson, RegistryJson.Options);

    private OnnxSignature? _signature;

    /// <summary>The input bindings, computed once per row instance (rows are cached by the runtime for the fast path).</summary>
    internal Inference.ColumnBinding[] Layout => _layout ??= Inference.LoadedModel.Bind(ModelSchema.Validate(
        Columns.Where(c => !c.IsLabel).ToList(),
        ModelTask,
        requireLabel: false,
        int.MaxValue,
        ModelFramework));

    private Inference.ColumnBinding[]? _layout;

    /// <summary>The feature of each <see cref="Layout"/> position, for the input observer (one array per row instance).</summary>
    internal ModelColumn[] LayoutColumns => _layoutColumns ??= [.. Layout.Select(b => b.Column)];

    private ModelColumn[]? _layoutColumns;

    /// <summary>The input contract compiled once per row instance, like <see cref="Layout"/>.</summary>
    internal Inference.CompiledContract Contract => _contract ??= Inference.CompiledContract.Create(Layout, InputContract);

    private Inference.CompiledContract? _contract;

    /// <summary>The stored contract, parsed once per row instance (every info, listing and compile reads it).</summary>
    public ModelInputContract? InputContract => InputContractJson is null
        ? null
        : _inputContract ??= JsonSerializer.Deserialize<ModelInputContract>(InputContractJson, RegistryJson.Options);

    private ModelInputContract? _inputContract;

    public ModelTask ModelTask => Enum.Parse<ModelTask>(Task);

    public ModelVersionStatus VersionStatus => Enum.Parse<ModelVersionStatus>(Status, ignoreCase: true);

    public IReadOnlyList<ModelColumn> Columns => JsonSerializer.Deserialize<List<ModelColumn>>(SchemaJson, RegistryJson.Options)!;

    public ModelVersionInfo ToInfo(IReadOnlyList<string> aliases) => new(
        Name,
        Version,
        ModelTask,
        Trainer,
        VersionStatus,
        CreatedAt,
        ActivatedAt,
        Columns,
        JsonSerializer.Deserialize<Dictionary<string, double>>(MetricsJson, RegistryJson.Options)!,
        JsonSerializer.Deserialize<Dictionary<string, string>>(TagsJson, RegistryJson.Options)!,
        new ModelLineage(DatasetId, DatasetVersion, RunId),
        Notes,
        Sha256,
        SizeBytes,
        aliases,
        FailureReason,
        InputContract,
        Framework: ModelFramework,
        Opset: Opset,
        Signature: Signature,
        Ensemble: Ensemble);
}

internal static class RegistryJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        WriteIndented = true,
    };
}

internal static class FrameworkText
{
    public const string Mlnet = "mlnet";
    public const string Onnx = "onnx";
    public const string Ensemble = "ensemble";

    public static string Of(ModelFramework framework) => framework switch
    {
        ModelFramework.Onnx => Onnx,
        ModelFramework.Ensemble => Ensemble,
        _ => Mlnet,
    };

    public static ModelFramework Parse(string text) => text switch
    {
        Onnx => ModelFramework.Onnx,
        Ensemble => ModelFramework.Ensemble,
        _ => ModelFramework.Mlnet,
    };
}

internal static class VersionStatusText
{
    public const string Registered = "registered";
    public const string Active = "active";
    public const string Archived = "archived";
    public const string Failed = "failed";
}
