using System.Globalization;
using System.Reflection;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Model.Training;

/// <summary>
/// How a trainer is built beyond its name: hyperparameters by their camelCase ML.NET option name
/// (<c>numberOfLeaves</c> sets <c>Options.NumberOfLeaves</c>), the example weight column and a thread cap.
/// </summary>
internal sealed record TrainerSettings(
    IReadOnlyDictionary<string, double> Hyperparameters,
    string? ExampleWeightColumn = null,
    int? Threads = null)
{
    public static readonly TrainerSettings Default = new(new Dictionary<string, double>());

    /// <summary>Sets the options object's properties from the settings; the names were checked by <see cref="TrainerSpec.With"/>.</summary>
    public T Apply<T>(T options)
        where T : class
    {
        foreach (var (name, value) in Hyperparameters)
        {
            Set(options, name, value);
        }

        if (ExampleWeightColumn is not null)
        {
            Set(options, "exampleWeightColumnName", ExampleWeightColumn);
        }

        if (Threads is { } threads)
        {
            Set(options, "numberOfThreads", threads);
        }

        return options;
    }

    /// <summary>Whether <paramref name="name"/> is an option of <paramref name="options"/> that takes a number.</summary>
    public static bool IsNumericOption(Type options, string name) =>
        Field(options, name) is { } field && IsNumber(Nullable.GetUnderlyingType(field.FieldType) ?? field.FieldType);

    private static void Set(object options, string name, object value)
    {
        var field = Field(options.GetType(), name)
            ?? throw ModuleException.Invalid($"hyperparameters.{name}", $"'{name}' is not an option of {options.GetType().Name}.");
        var type = Nullable.GetUnderlyingType(field.FieldType) ?? field.FieldType;
        field.SetValue(options, type == typeof(string) ? value : Convert.ChangeType(value, type, CultureInfo.InvariantCulture));
    }

    // ML.NET's trainer options are public fields, not properties.
    private static FieldInfo? Field(Type type, string name) =>
        type.GetField(char.ToUpperInvariant(name[0]) + name[1..], BindingFlags.Public | BindingFlags.Instance);

    private static bool IsNumber(Type type) => type == typeof(int) || type == typeof(float) || type == typeof(double);
}
