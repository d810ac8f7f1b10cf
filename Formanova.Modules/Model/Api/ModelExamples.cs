namespace Formanova.Modules.Model.Api;

/// <summary>Typical bodies of the model endpoints (a churn classifier), for the OpenAPI document.</summary>
internal static class ModelExamples
{
    private const string RunId = "training-7c1e9a4f2b3d4c5e8f9a0b1c2d3e4f50";
    private static readonly DateTimeOffset CreatedAt = new(2026, 11, 2, 9, 14, 5, TimeSpan.Zero);

    public static IReadOnlyList<ModelColumn> Columns { get; } =
    [
        new("tenure", ColumnKind.Numeric),
        new("monthlyCharges", ColumnKind.Numeric),
        new("contract", ColumnKind.Categorical),
        new("churned", ColumnKind.Boolean, IsLabel: true),
    ];

    /// <summary>The active version, as a single-version read returns it (without a training report, to keep it short).</summary>
    public static ModelVersionInfo Active { get; } = new(
        "churn",
        "1.3.0",
        ModelTask.BinaryClassification,
        "FastTree",
        ModelVersionStatus.Active,
        CreatedAt,
        CreatedAt.AddMinutes(20),
        Columns,
        new Dictionary<string, double> { ["auc"] = 0.874, ["accuracy"] = 0.812, ["f1"] = 0.641 },
        new Dictionary<string, string> { ["trainingRun"] = RunId },
        new ModelLineage("12", "2", RunId),
        null,
        "9f2c6d1e8a4b7c3f0e5d2a9b6c1f8e4d7a3b0c5e2f9d6a1b8c4e7f0a3d6b9c2e",
        48_213,
        ["champion"],
        null);

    /// <summary>The version <see cref="Active"/> replaced.</summary>
    public static ModelVersionInfo Previous { get; } = Active with
    {
        Version = "1.2.0",
        Trainer = "LightGbm",
        Status = ModelVersionStatus.Registered,
        CreatedAt = CreatedAt.AddDays(-14),
        ActivatedAt = CreatedAt.AddDays(-14),
        Metrics = new Dictionary<string, double> { ["auc"] = 0.861, ["accuracy"] = 0.804, ["f1"] = 0.622 },
        Sha256 = "1b7e4a0d3c6f9b2e5a8d1c4f7b0e3a6d9c2f5b8e1a4d7c0f3b6e9a2d5c8f1b4e",
        SizeBytes = 61_940,
        Aliases = [],
    };

    public static IReadOnlyList<ModelSummary> Summaries { get; } =
    [
        new("churn", ModelTask.BinaryClassification, "1.3.0", 2, "1.3.0", new Dictionary<string, string> { ["champion"] = "1.3.0" }),
    ];

    public static ModelDetails Details { get; } =
        new("churn", "1.3.0", new Dictionary<string, string> { ["champion"] = "1.3.0" }, [Active, Previous]);

    /// <summary>A version uploaded as an ML.NET zip: registered, not active, metrics as the uploader gave them.</summary>
    public static ModelVersionInfo Uploaded { get; } = Active with
    {
        Version = "1.4.0",
        Trainer = "uploaded",
        Status = ModelVersionStatus.Registered,
        CreatedAt = CreatedAt.AddDays(3),
        ActivatedAt = null,
        Metrics = new Dictionary<string, double> { ["auc"] = 0.88 },
        Tags = new Dictionary<string, string> { ["source"] = "notebook" },
        Lineage = new ModelLineage("12", "2"),
        Notes = "Retrained offline with the March data.",
        Sha256 = "c4e7f0a3d6b9c2e5f8a1d4c7b0e3f6a9d2c5b8e1f4a7d0c3b6e9f2a5d8c1b4e7",
        SizeBytes = 52_377,
        Aliases = [],
    };

    /// <summary>A weighted ensemble of two versions, one named by alias (pinned to the version it named).</summary>
    public static ModelVersionInfo Ensemble { get; } = Uploaded with
    {
        Version = "3.0.0",
        Trainer = "ensemble:weighted",
        Metrics = new Dictionary<string, double>(),
        Tags = new Dictionary<string, string>(),
        Lineage = new ModelLineage(),
        Notes = null,
        Framework = ModelFramework.Ensemble,
        SizeBytes = 412,
        Ensemble = new EnsembleInfo(
            EnsembleCombiner.Weighted,
            [new EnsembleMember("churn", "1.2.0", null, 2), new EnsembleMember("churn-usage", "2.1.0", "champion", 1)]),
    };

    public static PredictBatchBody BatchRequest { get; } = new(
        [
            new() { ["tenure"] = 12, ["monthlyCharges"] = 70.35, ["contract"] = "Month-to-month" },
            new() { ["tenure"] = 58, ["monthlyCharges"] = 24.1, ["contract"] = "Two year", ["customerId"] = "C-1042" },
        ],
        EntityIds: [null, "C-1042"]);

    public static BatchPredictionResult BatchResult { get; } = new(
        "churn",
        [
            Prediction(1.52, 0.82, cached: true),
            Prediction(-2.58, 0.07, cached: false),
        ],
        CachedCount: 1,
        LatencyMs: 1.9,
        IgnoredColumns: ["customerId"]);

    /// <summary>A binary prediction: <paramref name="score"/> is the trainer's raw score, the probabilities are calibrated.</summary>
    public static PredictionResult Prediction(double score, double probability, bool cached) => new(
        "churn",
        "1.3.0",
        score > 0 ? "true" : "false",
        null,
        score,
        null,
        new Dictionary<string, double> { ["true"] = probability, ["false"] = Math.Round(1 - probability, 2) },
        cached,
        cached ? 0.1 : 1.8,
        PredictionId: $"019aeb2c-61d0-7c3e-9f57-2b1f0c4e8a{(cached ? 11 : 12)}");
}
