using Microsoft.ML;

namespace Formanova.Modules.Model.Training;

/// <summary>
/// Example weights inversely proportional to class frequency (rows / (classes × rows of the class), so the weights
/// average 1): every class weighs as much as any other in the fit, which is what a macro metric rewards. A training
/// concern only: the column is added to the rows a pipeline is fitted on and is not part of the saved model.
/// </summary>
internal static class ClassWeights
{
    public const string Column = "Weight";

    public static IDataView Add(MLContext ml, ModelTask task, IDataView train) => task switch
    {
        ModelTask.BinaryClassification => Map(ml, train, Count<bool, bool>(train, v => v)),
        ModelTask.MulticlassClassification => Map(ml, train, Count<ReadOnlyMemory<char>, string>(train, v => v.ToString())),
        _ => train,
    };

    private static Dictionary<TKey, long> Count<TValue, TKey>(IDataView view, Func<TValue, TKey> key)
        where TKey : notnull
    {
        var counts = new Dictionary<TKey, long>();
        var label = view.Schema["Label"];
        using var cursor = view.GetRowCursor([label]);
        var getter = cursor.GetGetter<TValue>(label);
        TValue value = default!;
        while (cursor.MoveNext())
        {
            getter(ref value);
            var k = key(value);
            counts[k] = counts.GetValueOrDefault(k) + 1;
        }

        return counts;
    }

    private static IDataView Map<TKey>(MLContext ml, IDataView train, Dictionary<TKey, long> counts)
        where TKey : notnull
    {
        var total = (double)counts.Values.Sum();
        var weights = counts.Select(c => new KeyValuePair<TKey, float>(c.Key, (float)(total / (counts.Count * c.Value))));
        return ml.Transforms.Conversion.MapValue(Column, weights, "Label").Fit(train).Transform(train);
    }
}
