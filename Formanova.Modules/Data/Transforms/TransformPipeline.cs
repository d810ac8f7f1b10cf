using Formanova.Modules.Data.Schema;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Rows;

namespace Formanova.Modules.Data.Transforms;

/// <summary>Compiled transforms: the output columns and one function per step (null result = row filtered out).</summary>
internal sealed class TransformPipeline
{
    private readonly List<Func<long, object?[], object?[]?>> _steps = [];

    public TransformPipeline(IReadOnlyList<ColumnDefinition> columns) => Columns = [.. columns];

    public List<ColumnDefinition> Columns { get; }

    /// <summary>
    /// The steps as compiled, with every fill by mean or mode replaced by a constant fill of the value computed at
    /// compile time: compiling these again gives the same pipeline without reading the data.
    /// </summary>
    public List<TransformStep> FrozenRequest { get; } = [];

    /// <summary>The per-row steps as compiled, a fill's statistic as the constant it computed; splits are left out.</summary>
    public List<FrozenStep> Frozen { get; } = [];

    public int StepCount => _steps.Count;

    public object?[]? Apply(long rowId, object?[] row)
    {
        foreach (var step in _steps)
        {
            if (step(rowId, row) is not { } next)
            {
                return null;
            }

            row = next;
        }

        return row;
    }

    public void Add(Func<long, object?[], object?[]?> step) => _steps.Add(step);
}

/// <summary>
/// Checks and compiles declarative steps against the columns they will see. Fill with mean or mode needs a
/// statistic of the data as it stands before that step, so it reads the rows once through the earlier steps.
/// </summary>
internal static class TransformCompiler
{
    public static async Task<TransformPipeline> CompileAsync(
        IReadOnlyList<ColumnDefinition> columns,
        IReadOnlyList<TransformStep>? steps,
        Func<CancellationToken, IAsyncEnumerable<(long Id, object?[] Values)>> source,
        CancellationToken cancellationToken)
    {
        var pipeline = new TransformPipeline(columns);
        if (steps is null)
        {
            return pipeline;
        }

        if (steps.Count > 100)
        {
            throw ModuleException.Invalid("transforms", "At most 100 transform steps are allowed.");
        }

        for (var s = 0; s < steps.Count; s++)
        {
            var step = steps[s] ?? throw ModuleException.Invalid($"transforms[{s}]", "A step cannot be null.");
            var field = $"transforms[{s}]";
            var frozen = step;
            switch (step.Op)
            {
                case TransformOp.Rename:
                    {
                        var index = ColumnIndex(pipeline, step.Column, field);
                        var name = NewName(pipeline, step.NewName, field);
                        pipeline.Frozen.Add(new FrozenStep(TransformOp.Rename, Column: pipeline.Columns[index].Name, NewName: name));
                        pipeline.Columns[index] = pipeline.Columns[index] with { Name = name };
                        break;
                    }

                case TransformOp.Cast:
                    {
                        var index = ColumnIndex(pipeline, step.Column, field);
                        if (step.Type is not { } type || !Enum.IsDefined(type))
                        {
                            throw ModuleException.Invalid($"{field}.type", "A cast needs a target type.");
                        }

                        pipeline.Columns[index] = pipeline.Columns[index] with { Type = type, Nullable = true, Constraints = null };
                        pipeline.Frozen.Add(new FrozenStep(TransformOp.Cast, Column: pipeline.Columns[index].Name, Type: type));
                        pipeline.Add(RowSteps.Cast(index, type.ToScalar()));
                        break;
                    }

                case TransformOp.Fill:
                    {
                        var index = ColumnIndex(pipeline, step.Column, field);
                        var fill = await FillValueAsync(pipeline, index, step, field, source, cancellationToken);
                        frozen = step with { Fill = FillStrategy.Constant, Value = FrozenValue(fill) };
                        pipeline.Columns[index] = pipeline.Columns[index] with { Nullable = false };
                        pipeline.Add(RowSteps.Fill(index, fill));
                        pipeline.Frozen.Add(new FrozenStep(TransformOp.Fill, Column: pipeline.Columns[index].Name, Value: fill));
                        break;
                    }

                case TransformOp.Filter:
                    {
                        var expr = RowSteps.ParseFilter(step.Expression, ExprColumns(pipeline), $"{field}.expression");
                        pipeline.Add(RowSteps.Filter(expr));
                        pipeline.Frozen.Add(new FrozenStep(TransformOp.Filter, Expression: step.Expression));
                        break;
                    }

                case TransformOp.Derive:
                    {
                        var name = NewName(pipeline, step.NewName, field);
                        var expr = RowSteps.ParseDerive(step.Expression, ExprColumns(pipeline), $"{field}.expression");
                        var width = pipeline.Columns.Count;
                        pipeline.Columns.Add(new ColumnDefinition(name, ColumnType.Numeric, Nullable: true, ColumnRole.Feature));
                        pipeline.Add(RowSteps.Derive(width, expr));
                        pipeline.Frozen.Add(new FrozenStep(TransformOp.Derive, NewName: name, Expression: step.Expression));
                        break;
                    }

                case TransformOp.Split:
                    {
                        if (step.TestFraction is not (> 0 and < 1) || step.TestFraction is not { } fraction)
                        {
                            throw ModuleException.Invalid($"{field}.testFraction", "A split needs testFraction strictly between 0 and 1.");
                        }

                        if (step.Subset is not { } subset || !Enum.IsDefined(subset))
                        {
                            throw ModuleException.Invalid($"{field}.subset", "A split needs subset 'train' or 'test'.");
                        }

                        var seed = (ulong)(uint)(step.Seed ?? 0);
                        var wantTest = subset == SplitSubset.Test;
                        pipeline.Add((id, row) => (Unit(seed, id) < fraction) == wantTest ? row : null);
                        break;
                    }

                default:
                    throw ModuleException.Invalid($"{field}.op", "Unknown transform op.");
            }

            pipeline.FrozenRequest.Add(frozen);
        }

        return pipeline;
    }

    /// <summary>A fill value as the constant fill's JSON reads it back (a time as its ISO text).</summary>
    private static System.Text.Json.JsonElement FrozenValue(object fill) => fill switch
    {
        DateTimeOffset time => System.Text.Json.JsonSerializer.SerializeToElement(ValueText.Format(time)),
        _ => System.Text.Json.JsonSerializer.SerializeToElement(fill, fill.GetType()),
    };

    /// <summary>A uniform number in [0, 1) fixed by (seed, row id): the split is the same on every read and every machine.</summary>
    internal static double Unit(ulong seed, long rowId)
    {
        var z = (seed * 0x9E3779B97F4A7C15UL) ^ (ulong)rowId;
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }

    private static async Task<object> FillValueAsync(
        TransformPipeline pipeline,
        int index,
        TransformStep step,
        string field,
        Func<CancellationToken, IAsyncEnumerable<(long Id, object?[] Values)>> source,
        CancellationToken cancellationToken)
    {
        var column = pipeline.Columns[index];
        switch (step.Fill)
        {
            case FillStrategy.Constant:
                if (step.Value is not { } json)
                {
                    throw ModuleException.Invalid($"{field}.value", "A constant fill needs a value.");
                }

                var compiled = new CompiledColumn(column with { Nullable = false, Constraints = null }, index);
                return compiled.FromJson(json, out var constant) is { } failure
                    ? throw ModuleException.Invalid($"{field}.value", failure.Message)
                    : constant!;
            case FillStrategy.Mean:
                {
                    if (column.Type != ColumnType.Numeric)
                    {
                        throw ModuleException.Invalid(
                            $"{field}.fill",
                            $"The mean needs a numeric column; '{column.Name}' is {column.Type.ToString().ToLowerInvariant()}.");
                    }

                    double sum = 0;
                    long count = 0;
                    await foreach (var value in ValuesBefore(pipeline, index, source, cancellationToken))
                    {
                        sum += (double)value;
                        count++;
                    }

                    return count == 0
                        ? throw new ModuleException(ErrorKind.Unprocessable, $"'{column.Name}' has no values to average.")
                        : sum / count;
                }

            case FillStrategy.Mode:
                {
                    var counts = new Dictionary<object, long>();
                    await foreach (var value in ValuesBefore(pipeline, index, source, cancellationToken))
                    {
                        counts[value] = counts.GetValueOrDefault(value) + 1;
                    }

                    // Ties go to the smallest value so the result does not depend on row order.
                    return counts.Count == 0
                        ? throw new ModuleException(ErrorKind.Unprocessable, $"'{column.Name}' has no values to take the mode of.")
                        : counts.OrderByDescending(kv => kv.Value).ThenBy(kv => ValueText.Format(kv.Key), StringComparer.Ordinal).First()
                            .Key;
                }

            default:
                throw ModuleException.Invalid($"{field}.fill", "A fill needs 'constant', 'mean' or 'mode'.");
        }
    }

    private static async IAsyncEnumerable<object> ValuesBefore(
        TransformPipeline pipeline,
        int index,
        Func<CancellationToken, IAsyncEnumerable<(long Id, object?[] Values)>> source,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (id, values) in source(cancellationToken))
        {
            if (pipeline.Apply(id, values) is { } row && row[index] is { } value)
            {
                yield return value;
            }
        }
    }

    private static int ColumnIndex(TransformPipeline pipeline, string? name, string field)
    {
        var index = pipeline.Columns.FindIndex(c => c.Name == name);
        return index >= 0 ? index : throw ModuleException.Invalid($"{field}.column", $"'{name}' is not a column at this step.");
    }

    private static string NewName(TransformPipeline pipeline, string? name, string field)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > SchemaRules.MaxNameLength || name.Any(char.IsControl))
        {
            throw ModuleException.Invalid(
                $"{field}.newName",
                $"A new column name of 1 to {SchemaRules.MaxNameLength} characters without control characters is required.");
        }

        return pipeline.Columns.Exists(c => c.Name == name)
            ? throw ModuleException.Invalid($"{field}.newName", $"A column named '{name}' already exists.")
            : name;
    }

    private static List<ExprColumn> ExprColumns(TransformPipeline pipeline)
        => pipeline.Columns.Select(c => new ExprColumn(c.Name, c.Type.ToScalar())).ToList();
}

internal static class ColumnTypeScalars
{
    public static ScalarType ToScalar(this ColumnType type) => type switch
    {
        ColumnType.Numeric => ScalarType.Numeric,
        ColumnType.Categorical => ScalarType.Categorical,
        ColumnType.Boolean => ScalarType.Boolean,
        ColumnType.Text => ScalarType.Text,
        _ => ScalarType.Datetime,
    };
}
