using System.Globalization;
using Formanova.Modules.Shared.Errors;
using Microsoft.ML.Data;

namespace Formanova.Modules.Model.Training;

internal sealed record TableLimits(long MaxRows, long MaxBytes);

/// <summary>Reads streamed positional rows into typed column buffers, checking every value and the resource limits.</summary>
internal sealed class TrainingTable
{
    private readonly ModelSchema _schema;
    private readonly ModelTask _task;
    private readonly ColumnBuffer[] _features;
    private readonly int[] _featurePositions;
    private readonly int _labelPosition;
    private readonly int _width;
    private readonly Dictionary<string, ReadOnlyMemory<char>> _interned = new(StringComparer.Ordinal);

    private readonly ColumnBuffer _label;

    private TrainingTable(ModelSchema schema, IReadOnlyList<ModelColumn> positions, ModelTask task)
    {
        _schema = schema;
        _task = task;
        _width = positions.Count;
        _features = schema.Features.Select(CreateFeature).ToArray();
        _featurePositions = schema.Features.Select(f => IndexOf(positions, f)).ToArray();
        _labelPosition = IndexOf(positions, schema.Label!);
        _label = task switch
        {
            ModelTask.BinaryClassification => new ColumnBuffer<bool>("Label", BooleanDataViewType.Instance, 1),
            ModelTask.MulticlassClassification => new ColumnBuffer<ReadOnlyMemory<char>>("Label", TextDataViewType.Instance, 16),
            _ => new ColumnBuffer<float>("Label", NumberDataViewType.Single, 4),
        };
    }

    public int Rows { get; private set; }

    /// <summary>Rows without a label: left out of training (the only reason a row is skipped rather than refused).</summary>
    public long SkippedRows { get; private set; }

    /// <summary>Rows streamed in, skipped ones included.</summary>
    public long Read { get; private set; }

    public ColumnarDataView ToDataView() => new([.. _features, _label], Rows);

    /// <summary>
    /// The schema's features, typed as the pipeline reads them, with no rows and no label: what the ONNX converter
    /// takes its graph inputs from (a label column would become an input too).
    /// </summary>
    public static ColumnarDataView Features(ModelSchema schema) => new([.. schema.Features.Select(CreateFeature)], 0);

    public static async Task<TrainingTable> ReadAsync(
        ModelSchema schema,
        IReadOnlyList<ModelColumn> positions,
        ModelTask task,
        IAsyncEnumerable<object?[]> rows,
        TableLimits limits,
        string source,
        Action<long>? onRows,
        CancellationToken cancellationToken)
    {
        var table = new TrainingTable(schema, positions, task);
        var problems = new List<TrainingRowProblem>();
        // source is the request field the rows came from ("rows" or "testRows"): it keys the errors; people read this.
        var what = source == "testRows" ? "test rows" : "training rows";
        long index = 0;
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            if (table.Rows >= limits.MaxRows)
            {
                throw new ModuleException(ErrorKind.TooLarge, $"The {what} exceed Model:Training:MaxRows ({limits.MaxRows}).");
            }

            table.Add(row, index, source, problems);
            if (problems.Count >= TrainingRowProblem.MaxListed)
            {
                break;
            }

            index++;
            if ((index & 0x3FFF) == 0)
            {
                onRows?.Invoke(index);
                var bytes = table.EstimatedBytes;
                if (bytes > limits.MaxBytes)
                {
                    throw new ModuleException(
                        ErrorKind.TooLarge,
                        $"The {what} need about {bytes / (1024 * 1024)} MiB in memory, more than "
                        + $"Model:Training:MaxMemoryMegabytes ({limits.MaxBytes / (1024 * 1024)}).");
                }
            }
        }

        if (problems.Count > 0)
        {
            var errors = problems.GroupBy(p => $"{p.Source}[{p.Row}]")
                .ToDictionary(g => g.Key, g => g.Select(p => p.Column is null ? p.Reason : $"{p.Column}: {p.Reason}").ToArray());
            var failure = new ModuleException(
                ErrorKind.Unprocessable,
                $"Some {what} do not match the schema (first {problems.Count} problems listed).",
                errors);
            failure.Data[TrainingRowProblem.ExceptionDataKey] = (IReadOnlyList<TrainingRowProblem>)problems.AsReadOnly();
            throw failure;
        }

        onRows?.Invoke(index);
        table.Read = index;
        return table;
    }

    private long EstimatedBytes => _features.Sum(f => f.EstimatedBytes) + _label.EstimatedBytes;

    private void Add(object?[] row, long index, string source, List<TrainingRowProblem> problems)
    {
        if (row is null || row.Length != _width)
        {
            problems.Add(new(source, index, null, $"expected {_width} values, got {row?.Length ?? 0}"));
            return;
        }

        var label = row[_labelPosition];
        if (label is null)
        {
            SkippedRows++;
            return;
        }

        var before = problems.Count;
        if (!TryConvertLabel(label, out var labelFloat, out var labelBool, out var labelText))
        {
            Listed(problems, new(source, index, _schema.Label!.Name, $"{ValueConverter.Describe(label)} is not a valid {_task} label"));
        }

        // Validate the whole row before appending anything, so that a bad row never leaves ragged columns.
        Span<float> floats = stackalloc float[_features.Length];
        var texts = new string?[_features.Length];
        for (var i = 0; i < _features.Length; i++)
        {
            var column = _schema.Features[i];
            var value = row[_featurePositions[i]];
            var ok = ModelSchema.IsFloat(column.Kind)
                ? ValueConverter.TryFloat(column.Kind, value, out floats[i], out var error)
                : ValueConverter.TryText(column.Kind, value, out texts[i]!, out error);
            if (!ok)
            {
                Listed(problems, new(source, index, column.Name, error!));
            }
        }

        if (problems.Count > before)
        {
            return;
        }

        for (var i = 0; i < _features.Length; i++)
        {
            if (_features[i] is ColumnBuffer<float> numbers)
            {
                numbers.Add(floats[i]);
            }
            else
            {
                AddText((ColumnBuffer<ReadOnlyMemory<char>>)_features[i], _schema.Features[i].Kind, texts[i]!);
            }
        }

        switch (_label)
        {
            case ColumnBuffer<bool> binary:
                binary.Add(labelBool);
                break;
            case ColumnBuffer<float> numbers:
                numbers.Add(labelFloat);
                break;
            default:
                AddText((ColumnBuffer<ReadOnlyMemory<char>>)_label, ColumnKind.Categorical, labelText!);
                break;
        }

        Rows++;
    }

    private static void Listed(List<TrainingRowProblem> problems, TrainingRowProblem problem)
    {
        if (problems.Count < TrainingRowProblem.MaxListed)
        {
            problems.Add(problem);
        }
    }

    private bool TryConvertLabel(object label, out float number, out bool flag, out string? text)
    {
        number = float.NaN;
        flag = false;
        text = null;
        switch (_task)
        {
            case ModelTask.BinaryClassification when ValueConverter.BinaryLabel(label) is { } b:
                flag = b;
                return true;
            case ModelTask.Regression:
                return ValueConverter.TryFloat(ColumnKind.Numeric, label, out number, out _) && !float.IsNaN(number);
            case ModelTask.MulticlassClassification:
                return ValueConverter.TryText(ColumnKind.Categorical, label, out text, out _) && text.Length > 0;
            default:
                return false;
        }
    }

    private void AddText(ColumnBuffer<ReadOnlyMemory<char>> buffer, ColumnKind kind, string value)
    {
        if (kind == ColumnKind.Text)
        {
            buffer.Add(value.AsMemory(), 24 + (2 * value.Length));
            return;
        }

        // Categorical values repeat; one copy of each keeps a million-row table small.
        if (!_interned.TryGetValue(value, out var memory))
        {
            memory = value.AsMemory();
            _interned[value] = memory;
            buffer.Add(memory, 24 + (2 * value.Length));
            return;
        }

        buffer.Add(memory);
    }

    private static ColumnBuffer CreateFeature(ModelColumn column) => ModelSchema.IsFloat(column.Kind)
        ? new ColumnBuffer<float>(column.Name, NumberDataViewType.Single, 4)
        : new ColumnBuffer<ReadOnlyMemory<char>>(column.Name, TextDataViewType.Instance, 16);

    private static int IndexOf(IReadOnlyList<ModelColumn> positions, ModelColumn column)
    {
        for (var i = 0; i < positions.Count; i++)
        {
            if (string.Equals(positions[i].Name, column.Name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"Column {column.Name} is not in the row layout."));
    }
}
