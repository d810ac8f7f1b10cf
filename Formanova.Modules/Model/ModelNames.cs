using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Model;

/// <summary>
/// Names and versions become folder names, so they are normalised (NFKC, lower case, a leading 'v' dropped from
/// versions) and then must match a strict ASCII pattern: no separators, no dots in names, no traversal.
/// </summary>
internal static partial class ModelNames
{
    /// <summary>The most characters a model name, an alias, an arm's or an experiment's name may have.</summary>
    public const int MaxLength = 64;

    public static string Name(string? value, string field = "name") => Identifier(value, field, "a model name");

    public static string Alias(string? value, string field = "alias") => Identifier(value, field, "an alias");

    public static string Version(string? value, string field = "version")
    {
        var normalised = Normalise(value);
        if (normalised.Length > 1 && normalised[0] == 'v' && char.IsAsciiDigit(normalised[1]))
        {
            normalised = normalised[1..];
        }

        if (normalised.Length > 64 || !SemVer().IsMatch(normalised))
        {
            throw ModuleException.Invalid(field, $"'{value}' is not a semantic version such as 1.2.0 or 1.2.0-rc.1.");
        }

        return normalised;
    }

    /// <summary>Orders semantic versions: numeric parts, then a release above its pre-releases.</summary>
    public static readonly IComparer<string> VersionOrder = Comparer<string>.Create(CompareVersions);

    private static int CompareVersions(string a, string b)
    {
        var (coreA, preA) = Split(a);
        var (coreB, preB) = Split(b);
        for (var i = 0; i < 3; i++)
        {
            var c = coreA[i].CompareTo(coreB[i]);
            if (c != 0)
            {
                return c;
            }
        }

        if (preA is null || preB is null)
        {
            return preA is null ? (preB is null ? 0 : 1) : -1;
        }

        return string.CompareOrdinal(preA, preB);
    }

    private static (long[] Core, string? Pre) Split(string version)
    {
        var dash = version.IndexOf('-', StringComparison.Ordinal);
        var core = (dash < 0 ? version : version[..dash]).Split('.').Select(p => long.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        return (core, dash < 0 ? null : version[(dash + 1)..]);
    }

    private static string Identifier(string? value, string field, string what)
    {
        var normalised = Normalise(value);
        if (normalised.Length > MaxLength || !IdentifierPattern().IsMatch(normalised))
        {
            throw ModuleException.Invalid(
                field,
                $"'{value}' is not {what}: use 1-{MaxLength} characters a-z, 0-9, '-' or '_', starting with a letter or digit.");
        }

        return normalised;
    }

    private static string Normalise(string? value) =>
        (value ?? "").Trim().Normalize(NormalizationForm.FormKC).ToLowerInvariant();
    // With InvariantGlobalization only ASCII normalises; anything else stays non-ASCII and the pattern rejects it.

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]*$")]
    private static partial Regex IdentifierPattern();

    [GeneratedRegex(@"^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(-[0-9a-z-]+(\.[0-9a-z-]+)*)?$")]
    private static partial Regex SemVer();
}
