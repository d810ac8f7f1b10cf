using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Host.Dashboard;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;

namespace Formanova.Tests.Host.Dashboard.Workflows;

/// <summary>A run's page on the real host: status, timeline and the actions each key's scopes allow.</summary>
[Category("Integration")]
public sealed class WorkflowPageTests
{
    private FormanovaFactory _factory = null!;
    private HttpClient _api = null!;
    private long _dataset;
    private string _awaiting = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _factory = WorkflowTestKit.Factory(null, ("Dashboard:RefreshSeconds", "0.2"));
        _api = await WorkflowTestKit.ClientAsync(_factory);
        _dataset = await WorkflowDatasets.ChurnAsync(_factory.Services, 200);
        _awaiting = await StartAwaitingApprovalAsync("1.0.0");
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _api.Dispose();
        _factory.Dispose();
    }

    [Test]
    public async Task Page_WhenATrainingRunAwaitsApproval_ShowsItsStageAndATimelineOfItsActivities()
    {
        using var admin = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);

        var html = await admin.GetStringAsync(DashboardPaths.Workflow(_awaiting));

        Assert.That(html, Does.Contain("<dd data-field=\"stage\">awaiting-approval</dd>"));
        foreach (var activity in new[] { "prepare_training_data", "train_model", "validate_model", "register_model" })
        {
            Assert.That(html, Does.Contain($"data-step-kind=\"activity\" data-step=\"{activity}\""), activity);
        }

        Assert.That(html, Does.Contain("data-step-kind=\"timer\""), "the approval deadline");
        foreach (var action in new[] { "approve", "reject", "cancel" })
        {
            Assert.That(html, Does.Contain($"data-action=\"{action}\""), action);
        }
    }

    [Test]
    public async Task Page_WhenTheKeyIsReadOnly_ShowsNoActionAtAll()
    {
        using var reader = await DashboardClient.SignedInAsync(_factory, await CreateKeyAsync("read"));

        var html = await reader.GetStringAsync(DashboardPaths.Workflow(_awaiting));

        Assert.That(html, Does.Contain("awaiting-approval"));
        Assert.That(html, Does.Not.Contain("data-action=").And.Not.Contain("/actions/"));
    }

    [Test]
    public async Task Page_WhenTheKeyHasWriteButNotAdmin_ShowsCancelButNotTheApprovalItsEndpointKeepsForAdmins()
    {
        using var writer = await DashboardClient.SignedInAsync(_factory, await CreateKeyAsync("read", "write"));

        var html = await writer.GetStringAsync(DashboardPaths.Workflow(_awaiting));

        Assert.That(html, Does.Contain("data-action=\"cancel\""));
        Assert.That(html, Does.Not.Contain("data-action=\"approve\"").And.Not.Contain("data-action=\"reject\""));
    }

    [Test]
    public async Task Action_WhenTheKeyLacksTheScope_IsRefusedWith403AndNothingIsSent()
    {
        using var reader = await DashboardClient.SignedInAsync(_factory, await CreateKeyAsync("read", "write"));

        var response = await DashboardClient.PostFormAsync(
            reader,
            DashboardPaths.Workflow(_awaiting),
            DashboardPaths.Action(_awaiting, "approve"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("admin"));
        var run = await _api.GetFromJsonAsync<JsonObject>($"/api/v1/training-runs/{_awaiting}");
        Assert.That(run!["stage"]!.GetValue<string>(), Is.EqualTo("awaiting-approval"));
        Assert.That(run["progress"]!["approval"], Is.Null);
    }

    [Test]
    public async Task Action_WhenPostedWithoutTheAntiforgeryToken_IsRefusedAndNothingIsSent()
    {
        using var admin = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);

        using var forged = new FormUrlEncodedContent([]);
        var response = await admin.PostAsync(DashboardPaths.Action(_awaiting, "approve"), forged);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var run = await _api.GetFromJsonAsync<JsonObject>($"/api/v1/training-runs/{_awaiting}");
        Assert.That(run!["progress"]!["approval"], Is.Null);
    }

    [Test]
    public async Task Approve_WhenPostedFromThePage_ActivatesTheVersionAndTheTimelineShowsTheSignal()
    {
        var run = await StartAwaitingApprovalAsync("2.0.0");
        using var admin = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);

        var response = await DashboardClient.PostFormAsync(admin, DashboardPaths.Workflow(run), DashboardPaths.Action(run, "approve"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(response.Headers.Location?.OriginalString, Is.EqualTo($"{DashboardPaths.Workflow(run)}?done=approve"));
        var closed = await WorkflowTestKit.PollAsync(
            _api,
            $"/api/v1/training-runs/{run}",
            r => r["status"]!.GetValue<string>() != "running");
        Assert.That(closed["status"]!.GetValue<string>(), Is.EqualTo("completed"), closed.ToJsonString());
        var html = await admin.GetStringAsync(response.Headers.Location!.OriginalString);
        Assert.That(html, Does.Contain("Approve: sent."));
        Assert.That(html, Does.Contain("data-step-kind=\"signal\" data-step=\"approve\""));
        Assert.That(html, Does.Contain("data-step-kind=\"activity\" data-step=\"activate_model\""));
        Assert.That(html, Does.Not.Contain("data-action="), "a closed run offers no action");
    }

    [Test]
    public async Task Params_WhenAValueIsOutOfRange_ShowsTheWorkflowsRefusalAndChangesNothing()
    {
        var job = await DashboardRuns.StartPausedJobAsync(_api);
        using var client = await DashboardClient.SignedInAsync(_factory, await CreateKeyAsync("read", "predict"));

        var response = await DashboardClient.PostFormAsync(
            client,
            DashboardPaths.Workflow(job),
            DashboardPaths.Action(job, "params"),
            new() { ["decisionThreshold"] = "2" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var html = await response.Content.ReadAsStringAsync();
        Assert.That(html, Does.Contain("Change parameters was refused: decisionThreshold must be between 0 and 1."));
        var view = await _api.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{job}");
        Assert.That(view!["params"]!["decisionThreshold"]!.GetValue<double>(), Is.EqualTo(0.5));
    }

    [Test]
    public async Task Cancel_WhenPostedWithAReason_CancelsTheJobAndItsErrorHistoryNamesTheReasonAndTheKey()
    {
        var job = await DashboardRuns.StartPausedJobAsync(_api);
        using var client = await DashboardClient.SignedInAsync(_factory, await CreateKeyAsync("read", "predict"));

        var response = await DashboardClient.PostFormAsync(
            client,
            DashboardPaths.Workflow(job),
            DashboardPaths.Action(job, "cancel"),
            new() { ["reason"] = "wrong customer" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        var closed = await WorkflowTestKit.PollAsync(_api, $"/api/v1/jobs/{job}", j => j["status"]!.GetValue<string>() != "paused");
        Assert.That(closed["status"]!.GetValue<string>(), Is.EqualTo("cancelled"));
        Assert.That(closed["error"]!.GetValue<string>(), Does.Contain("wrong customer (by dash-read-predict)"));
        var html = await client.GetStringAsync(DashboardPaths.Workflow(job));
        Assert.That(html, Does.Contain("wrong customer (by dash-read-predict)"));
    }

    [Test]
    public async Task Page_WhenNoRunHasTheId_Answers404WithAPage()
    {
        using var admin = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);

        var response = await admin.GetAsync(DashboardPaths.Workflow("no-such-run"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/html"));
    }

    private Task<string> StartAwaitingApprovalAsync(string version) =>
        DashboardRuns.StartAwaitingApprovalAsync(_api, $"dash-{_dataset}", _dataset, version);

    private Task<string> CreateKeyAsync(params string[] scopes) =>
        DashboardClient.CreateKeyAsync(_factory, $"dash-{string.Join('-', scopes)}", scopes);
}
