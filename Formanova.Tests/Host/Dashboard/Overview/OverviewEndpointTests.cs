using Formanova.Host.Dashboard;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;

namespace Formanova.Tests.Host.Dashboard.Overview;

/// <summary>The overview page and its live stream on the real host, with the embedded Temporal server and the demo model.</summary>
[Category("Integration")]
public sealed class OverviewEndpointTests
{
    private FormanovaFactory _factory = null!;
    private HttpClient _api = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _factory = WorkflowTestKit.Factory(null, ("Dashboard:RefreshSeconds", "0.2"));
        _api = await WorkflowTestKit.ClientAsync(_factory);
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _api.Dispose();
        _factory.Dispose();
    }

    [Test]
    public async Task Overview_WhenAJobIsPaused_ShowsItRunningWithItsStageAndTheActiveVersionOfTheModel()
    {
        var job = await StartPausedJobAsync();
        using var client = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);

        var html = await client.GetStringAsync("/ui");

        Assert.That(html, Does.Contain($"data-run=\"{job}\""));
        Assert.That(html, Does.Contain("paused (validating)"));
        Assert.That(html, Does.Match($"(?s)data-model=\"{WorkflowTestKit.DemoModel}\".*?badge ok\">1\\.0\\.0<"));
        Assert.That(html, Does.Match("(?s)data-kind=\"job\">.*?data-status=\"running\">[1-9]"));
    }

    [Test]
    public async Task LiveStream_WhenAJobStartsWhileItIsOpen_SendsAFragmentThatListsIt()
    {
        using var client = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{DashboardPaths.Live}/overview");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var first = await DashboardClient.FragmentAsync(reader);

        var job = await StartPausedJobAsync();
        string next;
        do
        {
            next = await DashboardClient.FragmentAsync(reader);
        }
        while (!next.Contains(job, StringComparison.Ordinal));

        Assert.That(first, Does.Not.Contain(job));
        Assert.That(next, Does.Contain("Running").And.Contain($"href=\"/ui/workflows/{job}\""));
    }

    private Task<string> StartPausedJobAsync() => DashboardRuns.StartPausedJobAsync(_api);
}
