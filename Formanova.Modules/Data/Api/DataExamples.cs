using System.Text.Json;

namespace Formanova.Modules.Data.Api;

/// <summary>Typical bodies of the dataset and result endpoints (a customer churn table), for the OpenAPI document.</summary>
internal static class DataExamples
{
    private const string ImportId = "import-5d0c3f9e8b7a41c2a6e4d2b19f8c7a65";
    private static readonly DateTimeOffset CreatedAt = new(2026, 10, 19, 8, 30, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset ImportedAt = new(2026, 11, 2, 7, 45, 12, TimeSpan.Zero);

    private static readonly string[] Contracts = ["Month-to-month", "One year", "Two year"];

    public static IReadOnlyList<ColumnDefinition> Columns { get; } =
    [
        new("customerId", ColumnType.Text, Nullable: false, Role: ColumnRole.Id),
        new("tenure", ColumnType.Numeric, Nullable: false, Constraints: new ColumnConstraints(Min: 0, Max: 120)),
        new("monthlyCharges", ColumnType.Numeric, Constraints: new ColumnConstraints(Min: 0)),
        new("contract", ColumnType.Categorical, Constraints: new ColumnConstraints(AllowedValues: Contracts)),
        new("churned", ColumnType.Boolean, Role: ColumnRole.Label),
    ];

    public static CreateDatasetRequest CreateRequest { get; } =
        new("telco-churn", Columns, "Monthly customer snapshot", RequireLabel: true);

    /// <summary>The dataset after one schema change (version 2 added <c>monthlyCharges</c>' minimum) and an import.</summary>
    public static DatasetDetails Dataset { get; } = new(
        12,
        "telco-churn",
        "Monthly customer snapshot",
        2,
        true,
        7043,
        null,
        Columns,
        [
            new SchemaVersionInfo(
                1, true, [.. Columns.Select(c => c.Name == "monthlyCharges" ? c with { Constraints = null } : c)], CreatedAt),
            new SchemaVersionInfo(2, true, Columns, CreatedAt.AddDays(3)),
        ],
        CreatedAt,
        ImportedAt);

    public static DatasetDetails Created { get; } = Dataset with
    {
        SchemaVersion = 1,
        RowCount = 0,
        Versions = [new SchemaVersionInfo(1, true, Columns, CreatedAt)],
        UpdatedAt = CreatedAt,
    };

    public static IReadOnlyList<DatasetSummary> Summaries { get; } =
    [
        new(13, "telco-churn-train", "Derived from dataset 12", 1, 5634, 12, ImportedAt.AddHours(1), ImportedAt.AddHours(1)),
        new(12, "telco-churn", "Monthly customer snapshot", 2, 7043, null, CreatedAt, ImportedAt),
    ];

    public static UpdateSchemaRequest UpdateRequest { get; } = new(Columns, RequireLabel: true);

    public static ImportReport Import { get; } = new(
        ImportId,
        12,
        2,
        ImportErrorMode.Skip,
        ImportStatus.Committed,
        RowsRead: 1000,
        RowsAccepted: 998,
        RowsRejected: 2,
        [
            new RowError(17, "tenure", "min", "-3 is below the minimum 0."),
            new RowError(
                342, "contract", "allowedValues", "'Monthly' is not one of the allowed values (Month-to-month, One year, Two year)."),
        ],
        new Dictionary<string, long> { ["min"] = 1, ["allowedValues"] = 1 },
        Replayed: false,
        ImportedAt,
        ImportedAt.AddSeconds(2.4));

    private static IReadOnlyDictionary<string, object?> Customer(string id, double tenure, double charges, string contract, bool churned) =>
        new Dictionary<string, object?>
        {
            ["customerId"] = id,
            ["tenure"] = tenure,
            ["monthlyCharges"] = charges,
            ["contract"] = contract,
            ["churned"] = churned,
        };

    public static DataRow Row { get; } = new(1041, ImportId, 2, ImportedAt, Customer("C-1042", 58, 24.1, "Two year", false));

    public static RowPage Page { get; } = new(
        12,
        2,
        Columns,
        [new DataRow(1040, ImportId, 2, ImportedAt, Customer("C-1041", 12, 70.35, "Month-to-month", true)), Row],
        NextCursor: 1041);

    public static TransformRequest QueryRequest { get; } = new(
        [
            new TransformStep(TransformOp.Filter, Expression: "tenure >= 12 and contract == \"Month-to-month\""),
            new TransformStep(TransformOp.Derive, NewName: "yearlyCharges", Expression: "monthlyCharges * 12"),
        ],
        Limit: 2);

    public static QueryRowsResult QueryResult { get; } = new(
        [
            new RowStreamColumn("customerId", ColumnType.Text, ColumnRole.Id),
            new RowStreamColumn("tenure", ColumnType.Numeric, ColumnRole.Feature),
            new RowStreamColumn("monthlyCharges", ColumnType.Numeric, ColumnRole.Feature),
            new RowStreamColumn("contract", ColumnType.Categorical, ColumnRole.Feature),
            new RowStreamColumn("churned", ColumnType.Boolean, ColumnRole.Label),
            new RowStreamColumn("yearlyCharges", ColumnType.Numeric, ColumnRole.Feature),
        ],
        [
            new Dictionary<string, object?>(Customer("C-1041", 12, 70.35, "Month-to-month", true)) { ["yearlyCharges"] = 844.2 },
            new Dictionary<string, object?>(Customer("C-1187", 25, 89.9, "Month-to-month", false)) { ["yearlyCharges"] = 1078.8 },
        ]);

    public static MaterializeRequest MaterializeRequest { get; } = new(
        "telco-churn-train",
        [new TransformStep(TransformOp.Split, Seed: 42, TestFraction: 0.2, Subset: SplitSubset.Train)]);

    public static DatasetDetails Materialized { get; } = Dataset with
    {
        Id = 13,
        Name = "telco-churn-train",
        Description = "Derived from dataset 12",
        SchemaVersion = 1,
        RowCount = 5634,
        DerivedFromId = 12,
        Versions = [new SchemaVersionInfo(1, true, Columns, ImportedAt.AddHours(1))],
        CreatedAt = ImportedAt.AddHours(1),
        UpdatedAt = ImportedAt.AddHours(1),
    };

    public static Dictionary<string, object?> PredictionInput { get; } = new()
    {
        ["tenure"] = 12,
        ["monthlyCharges"] = 70.35,
        ["contract"] = "Month-to-month",
    };

    public static PredictionValidation Validation { get; } = new(
        true,
        12,
        2,
        [],
        new Dictionary<string, object?> { ["tenure"] = 12.0, ["monthlyCharges"] = 70.35, ["contract"] = "Month-to-month" });

    public static InferredSchema Inferred { get; } = new(
        [
            new ColumnDefinition("customer_id", ColumnType.Text, Nullable: false, Role: ColumnRole.Id),
            new ColumnDefinition("tenure", ColumnType.Numeric, Nullable: false),
            new ColumnDefinition("monthlyCharges", ColumnType.Numeric),
            new ColumnDefinition("contract", ColumnType.Categorical, Nullable: false),
            new ColumnDefinition("churned", ColumnType.Boolean, Nullable: false),
        ],
        SampledRows: 1000);

    public static ResultPage Results { get; } = new(
        [
            new ProcessingResult(
                481,
                "batch-0b8e2f7c4d1a4e6b9c3f5a7d2e1b8c40",
                "chunk-000001",
                "batch-0b8e2f7c4d1a4e6b9c3f5a7d2e1b8c40",
                "churn",
                "1.3.0",
                ResultStatus.Succeeded,
                null,
                JsonSerializer.SerializeToElement(new Dictionary<string, long> { ["count"] = 2043 }),
                null,
                ImportedAt.AddHours(2),
                ImportedAt.AddHours(2).AddSeconds(1.6),
                1600,
                ImportedAt.AddHours(2).AddSeconds(1.6)),
        ],
        NextCursor: 481);
}
