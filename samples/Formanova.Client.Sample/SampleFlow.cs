using System.Globalization;
using System.Text;
using Formanova.Client.Generated.Models;

namespace Formanova.Client.Sample;

/// <summary>
/// A dataset import, a training run that waits for approval, its approval, a prediction, and a batch job whose results
/// are exported: every step through <see cref="FormanovaClient"/>. Formanova.Tests runs this same flow against the
/// in-memory host.
/// </summary>
public static class SampleFlow
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Runs the flow; returns what it made, for a caller that wants to check it.</summary>
    public static async Task<SampleOutcome> RunAsync(FormanovaClient client, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(log);
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var modelName = $"sample-churn-{suffix}";

        // 1. A dataset: its schema, then rows from CSV.
        var dataset = await client.V1.Datasets.PostAsync(
            new CreateDatasetRequest
            {
                Name = $"sample-churn-{suffix}",
                Columns =
                [
                    Column("customer_id", ColumnType.Categorical, ColumnRole.Id),
                    Column("tenure_months", ColumnType.Numeric, ColumnRole.Feature),
                    Column("monthly_charges", ColumnType.Numeric, ColumnRole.Feature),
                    Column("contract", ColumnType.Categorical, ColumnRole.Feature),
                    Column("churned", ColumnType.Boolean, ColumnRole.Label),
                ],
            },
            cancellationToken: cancellationToken);
        var datasetId = dataset!.Id!.Value;
        using (var csv = new MemoryStream(Encoding.UTF8.GetBytes(ChurnCsv(rows: 300))))
        {
            var import = await client.ImportRowsAsync(datasetId, csv, "text/csv", cancellationToken: cancellationToken);
            await log.WriteLineAsync($"Imported {import!.RowsAccepted} rows into dataset {datasetId}");
        }

        // 2. A training run that stops for approval once it has its metrics.
        var accepted = await client.V1.TrainingRuns.PostAsync(
            new TrainingRunBody
            {
                Model = modelName,
                Version = "1.0.0",
                Task = ModelTask.BinaryClassification,
                DatasetId = datasetId,
                RequireApproval = true,
            },
            cancellationToken: cancellationToken);
        var runId = accepted!.Id!;
        var run = client.V1.TrainingRuns[runId];
        await log.WriteLineAsync($"Training run {runId} started");
        await UntilAsync(
            async ct => (await run.GetAsync(cancellationToken: ct))!.Stage == "awaiting-approval",
            cancellationToken);

        // 3. Approve it; the run registers and activates the version.
        await run.Approve.PostAsync(new ApprovalDecision { By = "sample" }, cancellationToken: cancellationToken);
        TrainingRunView? finished = null;
        await UntilAsync(
            async ct =>
            {
                finished = await run.GetAsync(cancellationToken: ct);
                return finished!.Status is "completed" or "failed";
            },
            cancellationToken);
        await log.WriteLineAsync($"Training run {runId}: {finished!.Status}");

        // 4. One prediction.
        var inputs = new PredictBody_inputs();
        inputs.AdditionalData["tenure_months"] = 2.0;
        inputs.AdditionalData["monthly_charges"] = 99.0;
        inputs.AdditionalData["contract"] = "month-to-month";
        var prediction = await client.V1.Models[modelName].Predict.PostAsync(
            new PredictBody { Inputs = inputs },
            cancellationToken: cancellationToken);
        var label = prediction!.Label;
        await log.WriteLineAsync($"Prediction: {label} (version {prediction.Version})");

        // 5. A batch job over the dataset, then its results as CSV.
        var batch = await client.V1.BatchJobs.PostAsync(
            new BatchBody { Model = modelName, DatasetId = datasetId, ChunkSize = 100 },
            cancellationToken: cancellationToken);
        var batchId = batch!.Id!;
        BatchView? job = null;
        await UntilAsync(
            async ct =>
            {
                job = await client.V1.BatchJobs[batchId].GetAsync(cancellationToken: ct);
                return job!.Status is "completed" or "failed" or "cancelled";
            },
            cancellationToken);
        await log.WriteLineAsync($"Batch job {batchId}: {job!.Status}");

        string export;
        await using (var results = await client.V1.BatchJobs[batchId].Results.GetAsync(cancellationToken: cancellationToken))
        {
            using var reader = new StreamReader(results!);
            export = await reader.ReadToEndAsync(cancellationToken);
        }

        var exportedLines = export.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        await log.WriteLineAsync($"Exported {exportedLines - 1} result rows as CSV");
        return new SampleOutcome(
            datasetId,
            runId,
            finished.Status!,
            prediction.Label,
            batchId,
            job.Status!,
            exportedLines - 1);
    }

    private static ColumnDefinition Column(string name, ColumnType type, ColumnRole role) =>
        new() { Name = name, Type = type, Role = role, Nullable = role == ColumnRole.Feature };

    /// <summary>A small synthetic churn table: short tenure, high charges and monthly contracts churn more.</summary>
    private static string ChurnCsv(int rows)
    {
        var random = new Random(7);
        var contracts = new[] { "month-to-month", "one-year", "two-year" };
        var csv = new StringBuilder("customer_id,tenure_months,monthly_charges,contract,churned\n");
        for (var i = 0; i < rows; i++)
        {
            var tenure = random.Next(1, 72);
            var charges = Math.Round(20 + (random.NextDouble() * 100), 2);
            var contract = contracts[random.Next(contracts.Length)];
            var noise = (random.NextDouble() - 0.5) * 0.4;
            var risk = (charges / 120) - (tenure / 72.0) + (contract == "month-to-month" ? 0.4 : -0.2) + noise;
            csv.Append(CultureInfo.InvariantCulture, $"c{i},{tenure},{charges},{contract},{(risk > 0.2 ? "true" : "false")}\n");
        }

        return csv.ToString();
    }

    private static async Task UntilAsync(Func<CancellationToken, Task<bool>> done, CancellationToken cancellationToken)
    {
        while (!await done(cancellationToken))
        {
            await Task.Delay(PollInterval, cancellationToken);
        }
    }
}

/// <summary>What <see cref="SampleFlow.RunAsync"/> made.</summary>
public sealed record SampleOutcome(
    long DatasetId,
    string TrainingRunId,
    string TrainingStatus,
    string? PredictedLabel,
    string BatchJobId,
    string BatchStatus,
    int ExportedRows);
