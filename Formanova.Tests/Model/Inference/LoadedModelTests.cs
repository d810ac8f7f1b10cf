using System.Text.Json;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Inference;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Model.Training;

namespace Formanova.Tests.Model.Inference;

/// <summary>The compact answer a batch job stores, against the full one a request gets, for every task.</summary>
[Category("Integration")]
public sealed class LoadedModelTests
{
    [TestCase(ModelTask.BinaryClassification)]
    [TestCase(ModelTask.MulticlassClassification)]
    [TestCase(ModelTask.Regression)]
    public async Task PredictCompact_ForEveryTask_MatchesTheLabelValueAndScoreOfPredict(ModelTask task)
    {
        var trained = await ModelTestKit.TrainAsync(seed: 11, rows: 400, task: task);
        var row = new ModelVersionRow
        {
            Name = "compact",
            Version = "1.0.0",
            Task = task.ToString(),
            SchemaJson = JsonSerializer.Serialize(SampleData.Columns(task), RegistryJson.Options),
        };
        using var zip = new MemoryStream(trained.Zip, writable: false);
        var model = LoadedModel.Load(row, zip, 1);
        var inputs = SampleData.Rows(task, 100, seed: 12).Select(r => InputNormalizer.Normalize(row.Layout, SampleData.Input(r, task)))
            .ToList();

        using var engine = model.Lease();
        var full = inputs.Select(i => engine.Predict(i.Floats, i.Texts)).Select(p => (p.Label, p.Value, p.Score)).ToList();
        var compact = inputs.Select(i => engine.PredictCompact(i.Floats, i.Texts)).Select(p => (p.Label, p.Value, p.Score)).ToList();

        Assert.Multiple(() =>
        {
            Assert.That(compact, Is.EqualTo(full));
            Assert.That(
                full.Select(p => p.Score).Distinct().Count(),
                Is.GreaterThan(1),
                "the rows get different answers, so a mix-up would show");
        });
    }
}
