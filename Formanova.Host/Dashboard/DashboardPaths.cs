namespace Formanova.Host.Dashboard;

/// <summary>The dashboard's paths, in one place for the pages, the cookie and the tests.</summary>
internal static class DashboardPaths
{
    public const string Root = "/ui";
    public const string SignIn = "/ui/sign-in";
    public const string SignOut = "/ui/sign-out";
    public const string Forbidden = "/ui/forbidden";
    public const string Live = "/ui/live";
    public const string Assets = "/ui/assets";
    public const string Workflows = "/ui/workflows";
    public const string Models = "/ui/models";
    public const string Datasets = "/ui/datasets";
    public const string Events = "/ui/events";

    /// <summary>The form field that carries the antiforgery token on every POST.</summary>
    public const string TokenField = "__RequestVerificationToken";

    public static string Workflow(string id) => $"/ui/workflows/{Uri.EscapeDataString(id)}";

    public static string Action(string id, string action) => $"{Workflow(id)}/actions/{Uri.EscapeDataString(action)}";

    public static string Dataset(long id) => $"{Datasets}/{id.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    public static string Upload(long id) => $"{Dataset(id)}/rows";

    public static string Redeliver(long deliveryId) =>
        $"{Events}/deliveries/{deliveryId.ToString(System.Globalization.CultureInfo.InvariantCulture)}/redeliver";

    public static string Model(string name) => $"{Models}/{Uri.EscapeDataString(name)}";

    public static string Version(string name, string version) => $"{Model(name)}/versions/{Uri.EscapeDataString(version)}";

    public static string ModelAction(string name, string version, string action) =>
        $"{Version(name, version)}/actions/{Uri.EscapeDataString(action)}";

    public static string Try(string name, string version) => $"{Version(name, version)}/try";

    public static string Compare(string name, string a, string b) =>
        $"{Model(name)}/compare?a={Uri.EscapeDataString(a)}&b={Uri.EscapeDataString(b)}";

    /// <summary>
    /// A path the sign-in may send the browser back to: a dashboard path on this host, or the overview. Anything else
    /// (another host, a scheme-relative URL, a backslash trick) is dropped.
    /// </summary>
    public static string LocalReturn(string? returnUrl) =>
        returnUrl is { Length: > 0 } url
        && (url == Root || url.StartsWith(Root + "/", StringComparison.Ordinal) || url.StartsWith(Root + "?", StringComparison.Ordinal))
        && !url.Contains('\\', StringComparison.Ordinal) && !url.Contains("//", StringComparison.Ordinal)
        && !url.StartsWith(SignIn, StringComparison.Ordinal)
            ? url
            : Root;

    /// <summary>Requests a browser makes in the background (live streams, assets), where a redirect to a form means nothing.</summary>
    public static bool IsBackground(HttpRequest request) =>
        request.Path.StartsWithSegments(Live, StringComparison.OrdinalIgnoreCase)
        || request.Path.StartsWithSegments(Assets, StringComparison.OrdinalIgnoreCase)
        || request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.OrdinalIgnoreCase);
}
