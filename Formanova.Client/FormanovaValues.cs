using System.Globalization;
using Microsoft.Kiota.Abstractions.Serialization;

namespace Formanova.Client;

/// <summary>Reads a scalar from a generated model whatever type the document gave it.</summary>
public static class FormanovaValues
{
    /// <summary>
    /// The value as invariant text: a string, a number, or an <see cref="UntypedNode"/> (what Kiota generates for a
    /// schema without a type); null for null, an empty string or an untyped null.
    /// </summary>
    public static string? Text(object? value) => value switch
    {
        null or UntypedNull => null,
        string text => text.Length == 0 ? null : text,
        UntypedString text => Text(text.GetValue()),
        UntypedLong number => number.GetValue().ToString(CultureInfo.InvariantCulture),
        UntypedInteger number => number.GetValue().ToString(CultureInfo.InvariantCulture),
        UntypedDouble number => number.GetValue().ToString("R", CultureInfo.InvariantCulture),
        UntypedBoolean flag => flag.GetValue() ? "true" : "false",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };
}
