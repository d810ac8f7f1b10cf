using Formanova.Host.Dashboard;

namespace Formanova.Tests.Host.Dashboard;

public sealed class DashboardPathsTests
{
    [TestCase("/ui", "/ui")]
    [TestCase("/ui/workflows/training-1", "/ui/workflows/training-1")]
    [TestCase("/ui?x=1", "/ui?x=1")]
    [TestCase(null, "/ui")]
    [TestCase("", "/ui")]
    [TestCase("https://elsewhere.example/ui", "/ui")]
    [TestCase("//elsewhere.example/ui", "/ui")]
    [TestCase("/ui//elsewhere.example", "/ui")]
    [TestCase("/ui/\\elsewhere.example", "/ui")]
    [TestCase("/uix", "/ui")]
    [TestCase("/api/v1/keys", "/ui")]
    [TestCase("/ui/sign-in?returnUrl=/ui", "/ui")]
    public void LocalReturn_WhenGivenAReturnUrl_KeepsOnlyDashboardPathsOfThisHost(string? returnUrl, string expected)
    {
        Assert.That(DashboardPaths.LocalReturn(returnUrl), Is.EqualTo(expected));
    }
}
