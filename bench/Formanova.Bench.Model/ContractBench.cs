using System.Globalization;
using System.Text.Json;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Microsoft.Extensions.DependencyInjection;

/// <summary>
/// The input contract's cost on the direct predict path, over HTTP in the bench host under wrk: today's shape (a
/// version without a contract, sent its feature columns) against a version with a contract sent a raw training row
/// (its label, an id and a note it ignores, and tenure as text that a frozen cast turns into a number). Same model,
/// same rows, same run; the figure is the ratio of request times (contract / today, target at most 1.1).
/// </summary>
internal static class ContractBench
{
    public static async Task RunAsync(int seconds)
    {
        var data = Directory.CreateTempSubdirectory("formanova-bench-contract-").FullName;
        await using (var app = await RestBench.StartAsync(data))
        {
            const ModelTask task = ModelTask.BinaryClassification;
            var columns = SampleData.Columns(task);
            var models = app.Services.GetRequiredService<IModelModule>();
            await models.TrainAsync(
                new TrainModelRequest("bench", "1.0.0", task, columns, Activate: true, Seed: 1),
                SampleData.RowsAsync(task, 5000, 1));
            await models.TrainAsync(
                new TrainModelRequest("bench-contract", "1.0.0", task, columns, Activate: true, Seed: 1, Contract: Contract(columns)),
                SampleData.RowsAsync(task, 5000, 1));

            var row = SampleData.Rows(task, 1, 3).First();
            var today = SampleData.Input(row, task);
            var raw = new Dictionary<string, object?>(today)
            {
                ["customer_id"] = "c-000123",
                ["tenure_months"] = Convert.ToString(today["tenure_months"], CultureInfo.InvariantCulture),
                ["churned"] = false,
                ["notes"] = "called twice about the bill",
            };
            var plain = await RestBench.ScriptAsync(data, "today.lua", JsonSerializer.Serialize(new { inputs = today, useCache = false }));
            var contract = await RestBench.ScriptAsync(data, "raw.lua", JsonSerializer.Serialize(new { inputs = raw, useCache = false }));

            var todayRps = 0.0;
            var contractRps = 0.0;
            for (var round = 0; round < 2; round++)
            {
                todayRps = Math.Max(todayRps, await RestBench.Wrk("http://127.0.0.1:5099/api/v1/models/bench/predict", plain, seconds));
                contractRps = Math.Max(
                    contractRps,
                    await RestBench.Wrk("http://127.0.0.1:5099/api/v1/models/bench-contract/predict", contract, seconds));
            }

            Console.WriteLine($"contract ({seconds} s per run, best of 2, wrk -t1 -c16, useCache=false): " +
                $"today's shape {todayRps:F0} req/s, " +
                $"raw row with label + unused columns + a cast {contractRps:F0} req/s, " +
                $"time ratio {todayRps / contractRps:F2} (target <= 1.1)");
            await app.StopAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(data, recursive: true);
    }

    // The raw columns a training dataset of the sample would have: an id, tenure stored as text, a note, the label.
    private static ModelInputContract Contract(IReadOnlyList<ModelColumn> columns) => new(
        [
            new InputColumn("customer_id", InputType.Text, InputRole.Ignored),
            .. columns.Select(c => new InputColumn(
                c.Name,
                (c.Name, c.Kind) switch
                {
                    ("tenure_months", _) => InputType.Text,
                    (_, ColumnKind.Numeric) => InputType.Numeric,
                    (_, ColumnKind.Boolean) => InputType.Boolean,
                    (_, ColumnKind.Categorical) => InputType.Categorical,
                    _ => InputType.Text,
                },
                c.IsLabel ? InputRole.Label : InputRole.Feature)),
            new InputColumn("notes", InputType.Text, InputRole.Ignored),
        ],
        [new InputStep(InputStepOp.Cast, "tenure_months", Type: InputType.Numeric)],
        []);
}
