using static Formanova.Tests.Model.Onnx.OnnxGraphBuilder;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Formanova.Tests.Model.Onnx;

/// <summary>
/// Linear models built by hand as ONNX graphs, with the arithmetic that gives their answers, so a test checks what
/// the service serves against values it computes itself from the weights.
/// </summary>
internal static class HandBuiltModels
{
    /// <summary>The bias of <see cref="Binary"/> unless another is given.</summary>
    public const float BinaryBias = 0.25f;

    // Regression: value = [x1, x2, x3] · w + b.
    private const float RegressionBias = 3f;

    /// <summary>The plans of the categorical column, in the order of the one-hot slots.</summary>
    public static readonly string[] Plans = ["basic", "plus", "pro"];

    /// <summary>The classes of the multiclass model, in the order of its probability slots.</summary>
    public static readonly string[] Tiers = ["bronze", "silver", "gold"];

    // Binary: logit = 0.8·age/10 − 0.5·income/10 + bias (the tens keep the logit near 0 for everyday values).
    private static readonly float[] BinaryWeights = [0.08f, -0.05f];

    // Multiclass: logits = [age, income, one-hot plan] · W + b, W 5×3.
    private static readonly float[] MulticlassWeights =
    [
        0.02f, -0.01f, 0.03f,
        -0.03f, 0.02f, 0.01f,
        0.5f, -0.2f, -0.3f,
        -0.1f, 0.4f, -0.3f,
        -0.4f, -0.2f, 0.6f,
    ];

    private static readonly float[] MulticlassBias = [0.1f, 0f, -0.1f];

    private static readonly float[] RegressionWeights = [1.5f, -2f, 0.25f];

    /// <summary>
    /// Binary: <c>age</c> and <c>income</c> (or the two columns named), float [N,1] each, concatenated, times two
    /// weights plus a bias; outputs <c>score</c> (the logit), <c>probability</c> (its sigmoid), both float [N,1], and
    /// <c>label</c> (bool [N,1], probability over 0.5).
    /// </summary>
    public static byte[] Binary(string first = "age", string second = "income", float bias = BinaryBias) =>
        BinaryGraph(new OnnxGraphBuilder(), first, second, bias);

    /// <summary><see cref="Binary"/> with an unused initializer of <paramref name="floats"/> floats: a valid file of any size.</summary>
    public static byte[] BinaryPadded(int floats) =>
        BinaryGraph(new OnnxGraphBuilder().Floats("padding", new float[floats], floats), "age", "income", BinaryBias);

    /// <summary>
    /// A regression graph that loads but fails on every run, whatever its number of rows: it gathers position 5 of
    /// the [N,1] input <c>x1</c>, which has one.
    /// </summary>
    public static byte[] FailsOnEveryRow() => new OnnxGraphBuilder()
        .Input("x1", DataType.Float, -1, 1)
        .Longs("far", [5L], 1)
        .Node("Gather", ["x1", "far"], ["value"], Int("axis", 1))
        .Output("value", DataType.Float, -1, 1)
        .Build();

    /// <summary>The columns of <see cref="Binary"/> as the registry holds them.</summary>
    public static object[] BinaryColumns => BinaryColumnsOf("age", "income");

    /// <summary>The signature that maps <see cref="Binary"/>'s tensors to its columns and outputs.</summary>
    public static object BinarySignature => BinarySignatureOf("age", "income");

    /// <summary>The upload metadata of <see cref="Binary"/> as <paramref name="version"/>: task, columns and signature.</summary>
    public static object BinaryMetadata(string version) => new
    {
        version,
        task = "binaryClassification",
        columns = BinaryColumns,
        signature = BinarySignature,
    };

    public static object[] BinaryColumnsOf(string first, string second) =>
    [
        new { name = first, kind = "numeric" },
        new { name = second, kind = "numeric" },
    ];

    public static object BinarySignatureOf(string first, string second) => new
    {
        inputs = new[] { ColumnInput(first), ColumnInput(second) },
        outputs = new { label = "label", score = "score", probabilities = "probability" },
    };

    public static double BinaryLogit(double first, double second, float bias = BinaryBias) =>
        (BinaryWeights[0] * (float)first) + (BinaryWeights[1] * (float)second) + bias;

    public static double BinaryProbability(double first, double second, float bias = BinaryBias) =>
        1 / (1 + Math.Exp(-BinaryLogit(first, second, bias)));

    /// <summary>
    /// Multiclass over <see cref="Tiers"/>: <c>age</c>, <c>income</c> (float [N,1]) and <c>plan</c> (string [N,1],
    /// one-hot encoded inside the graph by ai.onnx.ml OneHotEncoder over <see cref="Plans"/>); outputs
    /// <c>probabilities</c> (softmax, float [N,3]) and <c>label</c> (the index of the largest, int64 [N]).
    /// </summary>
    public static byte[] Multiclass() => MulticlassGraph(new OnnxGraphBuilder(mlOpset: 2)
        .Input("plan", DataType.String, -1, 1)
        .DomainNode("ai.onnx.ml", "OneHotEncoder", ["plan"], ["plan_3d"], Strings("cats_strings", Plans), Int("zeros", 1))
        .Node("Flatten", ["plan_3d"], ["plan_hot"], Int("axis", 1)));

    /// <summary>
    /// <see cref="Multiclass"/> with the plan already one-hot: <c>plan</c> is float [N,3], so the signature must name
    /// its categories (<see cref="Plans"/>) and the service encodes the column.
    /// </summary>
    public static byte[] MulticlassOneHotInput() => MulticlassGraph(new OnnxGraphBuilder()
        .Input("plan", DataType.Float, -1, 3)
        .Node("Identity", ["plan"], ["plan_hot"]));

    public static object[] MulticlassColumns =>
    [
        new { name = "age", kind = "numeric" },
        new { name = "income", kind = "numeric" },
        new { name = "plan", kind = "categorical" },
    ];

    /// <summary>The signature of <see cref="Multiclass"/> (the plan as a string tensor).</summary>
    public static object MulticlassSignature => new
    {
        inputs = new[] { ColumnInput("age"), ColumnInput("income"), ColumnInput("plan", "string") },
        outputs = new { label = "label", probabilities = "probabilities", classes = Tiers },
    };

    /// <summary>The signature of <see cref="MulticlassOneHotInput"/>: the plan's categories in the order of its slots.</summary>
    public static object MulticlassOneHotSignature => new
    {
        inputs = new[]
        {
            ColumnInput("age"),
            ColumnInput("income"),
            Binding("plan", "float", [-1, Plans.Length], ["plan"], new Dictionary<string, string[]> { ["plan"] = Plans }),
        },
        outputs = new { label = "label", probabilities = "probabilities", classes = Tiers },
    };

    /// <summary>The softmax the multiclass graphs compute, one probability per tier; an unknown plan is all zeros.</summary>
    public static double[] MulticlassProbabilities(double age, double income, string plan)
    {
        float[] features = [(float)age, (float)income, .. Plans.Select(p => p == plan ? 1f : 0f)];
        var logits = new double[Tiers.Length];
        for (var k = 0; k < logits.Length; k++)
        {
            var sum = MulticlassBias[k];
            for (var j = 0; j < features.Length; j++)
            {
                sum += features[j] * MulticlassWeights[(j * Tiers.Length) + k];
            }

            logits[k] = sum;
        }

        var max = logits.Max();
        var exp = logits.Select(l => Math.Exp(l - max)).ToArray();
        return [.. exp.Select(e => e / exp.Sum())];
    }

    /// <summary>
    /// Regression on one packed input: <c>features</c>, float [N,3], carrying the columns x1, x2 and x3 along its last
    /// axis; output <c>value</c>, float [N,1].
    /// </summary>
    public static byte[] Regression() => new OnnxGraphBuilder()
        .Input("features", DataType.Float, -1, 3)
        .Floats("w", RegressionWeights, 3, 1)
        .Floats("b", [RegressionBias], 1)
        .Node("MatMul", ["features", "w"], ["product"])
        .Node("Add", ["product", "b"], ["value"])
        .Output("value", DataType.Float, -1, 1)
        .Build();

    public static object[] RegressionColumns =>
    [
        new { name = "x1", kind = "numeric" },
        new { name = "x2", kind = "numeric" },
        new { name = "x3", kind = "numeric" },
    ];

    /// <summary>The signature of <see cref="Regression"/>: one tensor carries the three columns.</summary>
    public static object RegressionSignature => new
    {
        inputs = new[] { Binding("features", "float", [-1, 3], ["x1", "x2", "x3"]) },
        outputs = new { score = "value" },
    };

    public static double RegressionValue(double x1, double x2, double x3) =>
        (RegressionWeights[0] * (float)x1) + (RegressionWeights[1] * (float)x2) + (RegressionWeights[2] * (float)x3) + RegressionBias;

    /// <summary>One input binding as the upload's <c>metadata.signature.inputs</c> takes it.</summary>
    public static Dictionary<string, object?> Binding(
        string name,
        string elementType,
        long[] shape,
        string[] columns,
        Dictionary<string, string[]>? categories = null) =>
        new()
        {
            ["name"] = name,
            ["elementType"] = elementType,
            ["shape"] = shape,
            ["columns"] = columns,
            ["categories"] = categories,
        };

    /// <summary>A [N,1] tensor named as the one column it carries.</summary>
    public static Dictionary<string, object?> ColumnInput(string column, string elementType = "float") =>
        Binding(column, elementType, [-1, 1], [column]);

    private static byte[] MulticlassGraph(OnnxGraphBuilder withPlan) => withPlan
        .Input("age", DataType.Float, -1, 1)
        .Input("income", DataType.Float, -1, 1)
        .Floats("w", MulticlassWeights, 5, 3)
        .Floats("b", MulticlassBias, 3)
        .Node("Concat", ["age", "income", "plan_hot"], ["features"], Int("axis", 1))
        .Node("MatMul", ["features", "w"], ["product"])
        .Node("Add", ["product", "b"], ["logits"])
        .Node("Softmax", ["logits"], ["probabilities"], Int("axis", 1))
        .Node("ArgMax", ["probabilities"], ["label"], Int("axis", 1), Int("keepdims", 0))
        .Output("label", DataType.Int64, -1)
        .Output("probabilities", DataType.Float, -1, 3)
        .Build();

    private static byte[] BinaryGraph(OnnxGraphBuilder builder, string first, string second, float bias) => builder
        .Input(first, DataType.Float, -1, 1)
        .Input(second, DataType.Float, -1, 1)
        .Floats("w", BinaryWeights, 2, 1)
        .Floats("b", [bias], 1)
        .Floats("half", [0.5f], 1)
        .Node("Concat", [first, second], ["features"], Int("axis", 1))
        .Node("MatMul", ["features", "w"], ["product"])
        .Node("Add", ["product", "b"], ["score"])
        .Node("Sigmoid", ["score"], ["probability"])
        .Node("Greater", ["probability", "half"], ["label"])
        .Output("label", DataType.Bool, -1, 1)
        .Output("score", DataType.Float, -1, 1)
        .Output("probability", DataType.Float, -1, 1)
        .Build();
}
