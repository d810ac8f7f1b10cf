using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Data.Schema;

/// <summary>
/// The rules a schema must satisfy. They run inside the service rather than as an endpoint filter so that a
/// workflow calling <see cref="IDataModule"/> directly gets the same answer as a REST client.
/// </summary>
internal static class SchemaRules
{
    public const int MaxNameLength = 256;

    public static void ValidateDatasetName(string? name, Dictionary<string, List<string>> errors)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            Add(errors, "name", "A dataset name is required.");
        }
        else if (name.Length > 200 || name.Any(char.IsControl))
        {
            Add(errors, "name", "A dataset name has at most 200 characters and no control characters.");
        }
    }

    public static void ValidateColumns(
        IReadOnlyList<ColumnDefinition>? columns,
        bool requireLabel,
        int maxColumns,
        Dictionary<string, List<string>> errors)
    {
        if (columns is null || columns.Count == 0)
        {
            Add(errors, "columns", "A schema needs at least one column.");
            return;
        }

        if (columns.Count > maxColumns)
        {
            Add(errors, "columns", $"A schema has at most {maxColumns} columns (Data:MaxColumns).");
            return;
        }

        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < columns.Count; i++)
        {
            var column = columns[i];
            var field = $"columns[{i}]";
            if (column is null)
            {
                Add(errors, field, "A column cannot be null.");
                continue;
            }

            ValidateColumn(column, field, errors);
            if (column.Name is not null && !seen.TryAdd(column.Name, i))
            {
                Add(errors, $"{field}.name", $"The column name '{column.Name}' is already used by columns[{seen[column.Name]}].");
            }
        }

        var labels = columns.Select((c, i) => (c, i)).Where(x => x.c?.Role == ColumnRole.Label).ToList();
        if (labels.Count > 1)
        {
            var names = string.Join(", ", labels.Select(l => $"'{l.c.Name}'"));
            Add(errors, "columns", $"Only one column may have the role 'label'; found {labels.Count}: {names}.");
        }
        else if (requireLabel && labels.Count == 0)
        {
            Add(errors, "columns", "This dataset requires a label column (requireLabel is true) but no column has the role 'label'.");
        }
    }

    private static void ValidateColumn(ColumnDefinition column, string field, Dictionary<string, List<string>> errors)
    {
        if (string.IsNullOrWhiteSpace(column.Name))
        {
            Add(errors, $"{field}.name", "A column name is required.");
        }
        else if (column.Name.Length > MaxNameLength || column.Name.Any(char.IsControl))
        {
            Add(
                errors,
                $"{field}.name",
                $"A column name has at most {MaxNameLength} characters and no control characters (tabs, line breaks).");
        }

        if (!Enum.IsDefined(column.Type))
        {
            Add(errors, $"{field}.type", "Unknown column type.");
        }

        if (!Enum.IsDefined(column.Role))
        {
            Add(errors, $"{field}.role", "Unknown column role.");
        }

        if (column.Role == ColumnRole.Label && column.Type == ColumnType.Text)
        {
            Add(errors, $"{field}.role", "A label must be numeric, categorical, boolean or datetime, not free text.");
        }

        var constraints = column.Constraints;
        if (constraints is null)
        {
            return;
        }

        var c = $"{field}.constraints";
        var isNumeric = column.Type == ColumnType.Numeric;
        var isString = column.Type is ColumnType.Categorical or ColumnType.Text;
        if ((constraints.Min is not null || constraints.Max is not null) && !isNumeric)
        {
            Add(errors, c, "min and max apply only to numeric columns.");
        }

        if (constraints.Min is { } min && constraints.Max is { } max && min > max)
        {
            Add(errors, $"{c}.min", $"min ({min}) is greater than max ({max}).");
        }

        if ((constraints.Min is { } m1 && !double.IsFinite(m1)) || (constraints.Max is { } m2 && !double.IsFinite(m2)))
        {
            Add(errors, c, "min and max must be finite numbers.");
        }

        if ((constraints.AllowedValues is not null || constraints.Pattern is not null || constraints.MaxLength is not null) && !isString)
        {
            Add(errors, c, "allowedValues, pattern and maxLength apply only to categorical and text columns.");
        }

        if (constraints.AllowedValues is { Count: 0 })
        {
            Add(errors, $"{c}.allowedValues", "allowedValues cannot be empty; leave it out to allow any value.");
        }

        if (constraints.AllowedValues?.Any(v => v is null) == true)
        {
            Add(errors, $"{c}.allowedValues", "allowedValues cannot contain null; make the column nullable instead.");
        }

        if (constraints.MaxLength is < 1)
        {
            Add(errors, $"{c}.maxLength", "maxLength must be at least 1.");
        }

        if (constraints.Pattern is not null && ColumnPattern.TryCompile(constraints.Pattern, out var reason) is null)
        {
            Add(errors, $"{c}.pattern", reason);
        }
    }

    public static void ThrowIfAny(Dictionary<string, List<string>> errors, string message)
    {
        if (errors.Count > 0)
        {
            throw new ModuleException(ErrorKind.Invalid, message, errors.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray()));
        }
    }

    public static void Add(Dictionary<string, List<string>> errors, string field, string reason)
    {
        if (!errors.TryGetValue(field, out var list))
        {
            errors[field] = list = [];
        }

        list.Add(reason);
    }
}
