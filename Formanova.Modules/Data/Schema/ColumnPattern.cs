using System.Text.RegularExpressions;

namespace Formanova.Modules.Data.Schema;

/// <summary>
/// The one way a column's <c>pattern</c> constraint becomes a regex, for the schema check and for every value check.
/// Patterns come from clients, and a backtracking engine lets one pattern cost exponential time per value
/// (<c>(a+)+</c> on a run of a's): an import of a few kilobytes took 45 s that way. The non-backtracking engine
/// runs in time linear in the value, so a pattern it cannot run is refused when the schema is written instead.
/// </summary>
internal static class ColumnPattern
{
    /// <summary>Longest pattern a schema may hold; matching costs grow with the pattern as well as the value.</summary>
    public const int MaxLength = 1000;

    /// <summary>A last guard per value; with linear-time matching only a value near Data:Import:MaxFieldChars nears it.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);

    private const RegexOptions Options = RegexOptions.CultureInvariant | RegexOptions.NonBacktracking;

    /// <summary>The pattern anchored to the whole value, or null with the reason it cannot be used.</summary>
    public static Regex? TryCompile(string pattern, out string reason)
    {
        reason = "";
        if (pattern.Length > MaxLength)
        {
            reason = $"A pattern has at most {MaxLength} characters; this one has {pattern.Length}.";
            return null;
        }

        // The pattern alone first, so that a syntax error's offset refers to what the client wrote.
        if (Build(pattern, ref reason) is null)
        {
            return null;
        }

        var anchored = Build($"^(?:{pattern})$", ref reason);
        if (anchored is null)
        {
            // Only an inline (?x) comment reaching the end of the pattern gets here: it swallows the anchoring.
            reason = "The pattern cannot be anchored to the whole value (does it end in a (?x) comment?).";
        }

        return anchored;
    }

    private static Regex? Build(string pattern, ref string reason)
    {
        try
        {
            return new Regex(pattern, Options, MatchTimeout);
        }
        catch (NotSupportedException ex)
        {
            reason = Unsupported(ex.Message);
        }
        catch (ArgumentException ex)
        {
            reason = $"The pattern is not a valid regular expression: {ex.Message}";
        }

        return null;
    }

    /// <summary>The engine's message names its own option type; say the same in the schema's terms.</summary>
    private static string Unsupported(string message)
    {
        const string Marker = "containing: ";
        var at = message.IndexOf(Marker, StringComparison.Ordinal);
        return at >= 0
            ? $"Patterns run on a linear-time engine without backtracking, which cannot run {message[(at + Marker.Length)..].TrimEnd('.')}."
              + " Backreferences, lookahead and lookbehind, atomic groups, conditionals, balancing groups and \\G are not supported."
            : "The pattern is too large for the linear-time engine: its repetition counts expand to more than it allows."
              + " Use smaller counts (for example {1,50} rather than {1,5000}) or fewer nested repetitions.";
    }
}
