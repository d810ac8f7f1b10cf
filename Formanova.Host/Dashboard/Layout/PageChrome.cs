namespace Formanova.Host.Dashboard.Layout;

/// <summary>What every page's frame needs: who is signed in, this viewer's antiforgery token, and where in the nav the page is.</summary>
/// <param name="Viewer">The signed-in key, or null on the sign-in and error pages of a visitor without a session.</param>
/// <param name="Token">The antiforgery request token for this viewer's forms.</param>
/// <param name="Section">The nav entry to mark as current (<see cref="Sections"/>).</param>
public sealed record PageChrome(Viewer? Viewer, string Token, string Section);

/// <summary>The signed-in key as the pages show it: id, name and scopes, and whether a scope is held (admin holds all).</summary>
public sealed record Viewer(string KeyId, string KeyName, IReadOnlyList<string> Scopes)
{
    public bool Has(string scope) =>
        Scopes.Contains(scope, StringComparer.Ordinal) || Scopes.Contains(Modules.Shared.Api.ApiScopes.Admin, StringComparer.Ordinal);
}

/// <summary>The nav entries.</summary>
public static class Sections
{
    public const string Overview = "overview";
    public const string Workflows = "workflows";
    public const string Models = "models";
    public const string Datasets = "datasets";
    public const string Events = "events";
    public const string None = "";
}
