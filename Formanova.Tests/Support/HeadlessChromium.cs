namespace Formanova.Tests.Support;

/// <summary>
/// The system's Chromium for the browser tests (Debian's <c>chromium</c> package, driven by Playwright through
/// <c>ExecutablePath</c>: no browser download works here). Without it a test is skipped with how to install it, or
/// fails under FORMANOVA_REQUIRE_SERVICES=1 (<c>.ci/run</c> installs it).
/// </summary>
internal static class HeadlessChromium
{
    public const string Variable = "FORMANOVA_CHROMIUM";

    private static readonly string[] Paths = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"];

    public static string ExecutablePath()
    {
        var candidates = Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } configured ? [configured] : Paths;
        return candidates.FirstOrDefault(File.Exists)
            ?? TestServices.Unavailable(
                $"Chromium is not installed: apt-get install chromium (.ci/run does), or set {Variable} to its binary.");
    }
}
