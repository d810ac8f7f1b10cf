namespace Formanova.Modules.Shared.Rows;

/// <summary>
/// The value types a row holds, as the row-step engine sees them: double, string (categorical and text), bool and
/// DateTimeOffset. The Data module's column types and the Model module's input types map one to one onto these.
/// </summary>
internal enum ScalarType
{
    Numeric,
    Categorical,
    Boolean,
    Text,
    Datetime,
}
