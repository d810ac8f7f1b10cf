using System.Globalization;
using System.Text;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Workflows;

/// <summary>Datasets for the workflows, imported through IDataModule: the Model module's synthetic churn sample, and penguins.</summary>
internal static class WorkflowDatasets
{
    private static readonly string[] Species = ["Adelie", "Chinstrap", "Gentoo"];

    /// <summary>The churn sample with a leading customer_id id column (c0, c1, …) and churned as the label.</summary>
    public static async Task<long> ChurnAsync(IServiceProvider services, int rows, int seed = 7, string? name = null)
    {
        var data = services.GetRequiredService<IDataModule>();
        var sample = SampleData.Columns(ModelTask.BinaryClassification);
        var columns = new List<ColumnDefinition> { new("customer_id", ColumnType.Categorical, Nullable: false, Role: ColumnRole.Id) };
        columns.AddRange(sample.Select(c => new ColumnDefinition(c.Name, c.Kind switch
        {
            ColumnKind.Numeric => ColumnType.Numeric,
            ColumnKind.Boolean => ColumnType.Boolean,
            ColumnKind.Categorical => ColumnType.Categorical,
            _ => ColumnType.Text,
        }, Nullable: true, Role: c.IsLabel ? ColumnRole.Label : ColumnRole.Feature)));
        var dataset = await data.CreateDatasetAsync(new CreateDatasetRequest(name ?? $"churn-{Guid.NewGuid():N}", columns));
        await AppendChurnAsync(services, dataset.Id, rows, seed);
        return dataset.Id;
    }

    /// <summary>
    /// Imports <paramref name="rows"/> more churn rows into a dataset <see cref="ChurnAsync"/> made, with customer ids
    /// from <paramref name="firstIndex"/> on.
    /// </summary>
    public static async Task AppendChurnAsync(IServiceProvider services, long datasetId, int rows, int seed = 7, int firstIndex = 0)
    {
        var data = services.GetRequiredService<IDataModule>();
        var columns = (await data.GetDatasetAsync(datasetId)).Columns;
        var csv = new StringBuilder(string.Join(',', columns.Select(c => c.Name))).Append('\n');
        var index = firstIndex;
        foreach (var row in SampleData.Rows(ModelTask.BinaryClassification, rows, seed))
        {
            csv.Append('c').Append(index++);
            foreach (var value in row)
            {
                csv.Append(',').Append(value switch
                {
                    null => "",
                    bool b => b ? "true" : "false",
                    double d => d.ToString("R", CultureInfo.InvariantCulture),
                    var other => Convert.ToString(other, CultureInfo.InvariantCulture),
                });
            }

            csv.Append('\n');
        }

        using var content = new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString()));
        var report = await data.ImportRowsAsync(datasetId, content, new ImportOptions(ImportFormat.Csv));
        Assert.That(report.RowsAccepted, Is.EqualTo(rows), string.Join("; ", report.Errors.Select(e => e.Message)));
    }

    /// <summary>30 penguins, the species (3 classes, in turn) as the label.</summary>
    public static async Task<long> PenguinsAsync(IServiceProvider services)
    {
        var data = services.GetRequiredService<IDataModule>();
        var dataset = await data.CreateDatasetAsync(new CreateDatasetRequest(
            $"penguins-{Guid.NewGuid():N}",
            [
                new("bill length (mm)", ColumnType.Numeric),
                new("island", ColumnType.Categorical),
                new("species", ColumnType.Categorical, Role: ColumnRole.Label),
            ]));
        var csv = new StringBuilder("\"bill length (mm)\",island,species\n");
        for (var i = 0; i < 30; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{35 + (5 * (i % 3)) + (i * 0.1)},{Species[(i / 3) % 3]},{Species[i % 3]}\n");
        }

        using var content = new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString()));
        var report = await data.ImportRowsAsync(dataset.Id, content, new ImportOptions(ImportFormat.Csv));
        Assert.That(report.RowsAccepted, Is.EqualTo(30));
        return dataset.Id;
    }
}
