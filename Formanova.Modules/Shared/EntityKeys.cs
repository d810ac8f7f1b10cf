using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Shared;

/// <summary>
/// The rules of an entity key, the caller's name for what a prediction was about (a customer id, an order number):
/// 1 to 128 characters from letters, digits and <c>. _ - : @ / + =</c>, so that it is safe in a log line and an
/// index and stays one token in a URL. Predict and feedback check it the same way.
/// </summary>
public static class EntityKeys
{
    public const int MaxLength = 128;

    public const string Rule = "An entity key has 1 to 128 characters: letters, digits and . _ - : @ / + =";

    public static bool IsValid(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or '-' or ':' or '@' or '/' or '+' or '='))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The key itself, null for none, or Invalid naming <paramref name="field"/>.</summary>
    public static string? Check(string? value, string field) =>
        value is null || IsValid(value) ? value : throw ModuleException.Invalid(field, Rule);
}
