using System.Globalization;
using System.Text;
using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Workflows;

/// <summary>Datasets built from the Model module's synthetic churn sample, imported through IDataModule.</summary>
internal static class WorkflowDatasets
{
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

        var csv = new StringBuilder(string.Join(',', columns.Select(c => c.Name))).Append('\n');
        var index = 0;
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
        var report = await data.ImportRowsAsync(dataset.Id, content, new ImportOptions(ImportFormat.Csv));
        Assert.That(report.RowsAccepted, Is.EqualTo(rows), string.Join("; ", report.Errors.Select(e => e.Message)));
        return dataset.Id;
    }
}
