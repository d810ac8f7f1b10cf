using System.Text.Json;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Onnx;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Model.Training;
using Microsoft.Extensions.Options;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Formanova.Tests.Model.Onnx;

/// <summary>
/// Every trainer of the catalog, on the sample table without its text column, through ML.NET's converter: the graph runs
/// in ONNX Runtime and scores 1,000 rows as the ML.NET model does, within the tolerance docs/model.md states (the table
/// "Which trainers convert" there).
/// </summary>
[Category("Integration")]
public sealed class OnnxExporterTests
{
    private const double Tolerance = 1e-4;
    private const int Rows = 1000;

    public static IEnumerable<TestCaseData> Trainers() =>
        Enum.GetValues<ModelTask>().SelectMany(task => TrainerCatalog.NamesFor(task).Select(name => new TestCaseData(task, name)));

    [TestCaseSource(nameof(Trainers))]
    public async Task Convert_ForEachTrainerOfTheCatalog_RunsInOnnxRuntimeAndScoresAsMlnet(ModelTask task, string trainer)
    {
        var all = SampleData.Columns(task);
        var kept = Enumerable.Range(0, all.Count).Where(i => all[i].Kind != ColumnKind.Text).ToArray();
        var columns = kept.Select(i => all[i]).ToList();
        List<object?[]> Sample(int count, int seed) =>
            [.. SampleData.Rows(task, count, seed).Select(r => kept.Select(i => r[i]).ToArray())];
        var trained = await new ModelTrainer(Options.Create(new ModelOptions())).TrainAsync(
            new TrainModelRequest("converted", "1.0.0", task, columns, trainer, Seed: 5),
            Async(Sample(500, 5)),
            null,
            null,
            default);
        var zip = Path.GetTempFileName();
        await File.WriteAllBytesAsync(zip, trained.Zip);
        var row = new ModelVersionRow
        {
            Name = "converted",
            Version = "1.0.0",
            Task = task.ToString(),
            SchemaJson = JsonSerializer.Serialize(columns, RegistryJson.Options),
        };

        var graph = OnnxExporter.Convert(row, zip);

        File.Delete(zip);
        var rows = Sample(Rows, 99);
        var expected = MlnetScores(trained.Zip, task, columns, rows);
        using var session = new InferenceSession(graph, new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR });
        var features = columns.Where(c => !c.IsLabel).ToList();
        var inputs = features.Select(f => Input(f, columns.IndexOf(f), rows)).ToList();
        using var results = session.Run(inputs);
        var scores = results.Single(r => r.Name == "Score.output").AsTensor<float>().ToArray();
        var worst = 0.0;
        Assert.Multiple(() =>
        {
            Assert.That(scores, Has.Length.EqualTo(expected.Count * expected[0].Length));
            for (var i = 0; i < expected.Count; i++)
            {
                for (var k = 0; k < expected[i].Length; k++)
                {
                    double mlnet = expected[i][k], onnx = scores[(i * expected[i].Length) + k];
                    worst = Math.Max(worst, Math.Abs(onnx - mlnet) / (1 + Math.Abs(mlnet)));
                    Assert.That(onnx, Is.EqualTo(mlnet).Within(Tolerance + (Tolerance * Math.Abs(mlnet))), $"score {k} of row {i}");
                }
            }
        });
        TestContext.Out.WriteLine($"{task} {trainer}: largest |onnx - mlnet| / (1 + |mlnet|) over {Rows} rows: {worst:E2}");
    }

    private static List<float[]> MlnetScores(byte[] zip, ModelTask task, List<ModelColumn> columns, List<object?[]> rows)
    {
        var ml = new MLContext();
        var model = ml.Model.Load(new MemoryStream(zip), out _);
        var schema = ModelSchema.Validate(columns, task, requireLabel: true, int.MaxValue);
        var table = TrainingTable.ReadAsync(
            schema,
            columns,
            task,
            Async(rows),
            new TableLimits(long.MaxValue, long.MaxValue),
            "rows",
            null,
            default).GetAwaiter().GetResult();
        var scored = model.Transform(table.ToDataView());
        var column = scored.Schema["Score"];
        var scores = new List<float[]>();
        using var cursor = scored.GetRowCursor([column]);
        if (column.Type is VectorDataViewType)
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> value = default;
            while (cursor.MoveNext())
            {
                getter(ref value);
                scores.Add([.. value.DenseValues()]);
            }
        }
        else
        {
            var getter = cursor.GetGetter<float>(column);
            var value = 0f;
            while (cursor.MoveNext())
            {
                getter(ref value);
                scores.Add([value]);
            }
        }

        return scores;
    }

    private static NamedOnnxValue Input(ModelColumn column, int position, List<object?[]> rows) => ModelSchema.IsFloat(column.Kind)
        ? NamedOnnxValue.CreateFromTensor(
            column.Name,
            new DenseTensor<float>(
                rows.Select(r => r[position] switch
                {
                    bool b => b ? 1f : 0f,
                    double d => (float)d,
                    _ => float.NaN,
                }).ToArray(),
                [rows.Count, 1]))
        : NamedOnnxValue.CreateFromTensor(
            column.Name,
            new DenseTensor<string>(rows.Select(r => (string?)r[position] ?? "").ToArray(), [rows.Count, 1]));

    private static async IAsyncEnumerable<object?[]> Async(IEnumerable<object?[]> rows)
    {
        foreach (var row in rows)
        {
            yield return row;
        }

        await Task.CompletedTask;
    }
}
