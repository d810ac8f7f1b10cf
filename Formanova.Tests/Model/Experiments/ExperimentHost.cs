using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Model.Experiments;

/// <summary>The real host on a test database, without the demo model, and small versions of a churn model to compare.</summary>
internal static class ExperimentHost
{
    public static FormanovaFactory Start(TestDatabase db, params (string Key, string? Value)[] settings) =>
        new(db.Settings.Concat(
        [
            new("Model:Bootstrap:Enabled", "false"),
            new("Logging:LogLevel:Default", "Warning"),
            new("Logging:LogLevel:Temporalio", "Error"),
            .. settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)),
        ]));

    /// <summary>Trains <paramref name="versions"/> of <paramref name="model"/> (different seeds), the first one active.</summary>
    public static async Task TrainAsync(FormanovaFactory host, string model, params string[] versions)
    {
        const ModelTask task = ModelTask.BinaryClassification;
        var module = host.Services.GetRequiredService<IModelModule>();
        for (var i = 0; i < versions.Length; i++)
        {
            await module.TrainAsync(
                new TrainModelRequest(model, versions[i], task, SampleData.Columns(task), Seed: 3 + i, Activate: i == 0),
                SampleData.RowsAsync(task, 300, 3 + i));
        }
    }

    public static CreateExperimentRequest Request(string name, string model, params ExperimentArmSpec[] arms) =>
        new(name, model, arms.Length > 0 ? arms : [new("control", "1.0.0"), new("candidate", "1.1.0")]);
}
