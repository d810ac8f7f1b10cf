using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Host.Dashboard;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;

namespace Formanova.Tests.Host.Dashboard.Models;

/// <summary>The model pages on the real host with the demo model: report, actions per scope, "try it", comparison.</summary>
[Category("Integration")]
public sealed class ModelPageTests
{
    private static readonly string Version = DashboardPaths.Version(WorkflowTestKit.DemoModel, "1.0.0");

    private FormanovaFactory _factory = null!;
    private HttpClient _api = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _factory = WorkflowTestKit.Factory(null);
        _api = await WorkflowTestKit.ClientAsync(_factory);
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _api.Dispose();
        _factory.Dispose();
    }

    [Test]
    public async Task Version_WhenOpenedByAReadKey_ShowsTheReportChartsButNoActionAndNoTryForm()
    {
        var key = await DashboardClient.CreateKeyAsync(_factory, "models-read", "read");
        using var reader = await DashboardClient.SignedInAsync(_factory, key);

        var html = await reader.GetStringAsync(Version);

        foreach (var chart in new[] { "confusion", "importance", "balance" })
        {
            Assert.That(html, Does.Contain($"data-chart=\"{chart}\""), chart);
        }

        Assert.That(html, Does.Contain("data-field=\"status\">active<"));
        Assert.That(html, Does.Not.Contain("data-action="));
    }

    [Test]
    public async Task Model_WhenMonitored_ShowsTheLatestCheckWithTheDriftOfEachFeature()
    {
        var policy = await _api.PutAsJsonAsync(
            $"/api/v1/models/{WorkflowTestKit.DemoModel}/monitoring/policy", new { thresholds = new { minRows = 1 } });
        Assert.That(policy.StatusCode, Is.EqualTo(HttpStatusCode.OK), await policy.Content.ReadAsStringAsync());
        var predicted = await _api.PostAsJsonAsync(
            $"/api/v1/models/{WorkflowTestKit.DemoModel}/predict", new { inputs = WorkflowTestKit.ValidInput() });
        Assert.That(predicted.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var check = await _api.PostAsync($"/api/v1/models/{WorkflowTestKit.DemoModel}/monitoring/check", null);
        Assert.That(check.StatusCode, Is.EqualTo(HttpStatusCode.OK), await check.Content.ReadAsStringAsync());
        using var reader = await DashboardClient.SignedInAsync(_factory, await DashboardClient.CreateKeyAsync(_factory, "monitor", "read"));

        var html = await reader.GetStringAsync(DashboardPaths.Model(WorkflowTestKit.DemoModel));

        Assert.That(html, Does.Contain("data-monitoring-status"));
        Assert.That(html, Does.Contain("data-feature=\"tenure_months\""));
        Assert.That(html, Does.Contain("data-feature=\"contract\""));
    }

    [Test]
    public async Task Try_WhenTheKeyCanPredict_ShowsTheVersionsAnswerForTheRowAndOffersNoRegistryAction()
    {
        using var predictor = await DashboardClient.SignedInAsync(
            _factory,
            await DashboardClient.CreateKeyAsync(_factory, "models-predict", "read", "predict"));
        var page = await predictor.GetStringAsync(Version);
        var row = WorkflowTestKit.ValidInput()
            .Where(kv => kv.Value is not null)
            .ToDictionary(kv => $"in.{kv.Key}", kv => Text(kv.Value!));

        var response = await DashboardClient.PostFormAsync(predictor, Version, DashboardPaths.Try(WorkflowTestKit.DemoModel, "1.0.0"), row);

        Assert.That(page, Does.Contain("data-action=\"try\""));
        Assert.That(page, Does.Not.Contain("data-action=\"activate\"").And.Not.Contain("data-action=\"alias\""));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var html = await response.Content.ReadAsStringAsync();
        var expected = await _api.PostAsJsonAsync(
            $"/api/v1/models/{WorkflowTestKit.DemoModel}/predict",
            new { inputs = WorkflowTestKit.ValidInput(), version = "1.0.0", useCache = false });
        var label = (await WorkflowTestKit.ReadAsync(expected))["label"]!.GetValue<string>();
        Assert.That(html, Does.Contain("data-field=\"try-result\"").And.Contain($"<dt>Label</dt><dd>{label}</dd>"));
        Assert.That(html, Does.Contain("value=\"month-to-month\""), "the form keeps the row it predicted");
    }

    [Test]
    public async Task Action_WhenTheKeyLacksTheScopeOfTheEndpointItMirrors_IsRefusedWith403()
    {
        using var predictor = await DashboardClient.SignedInAsync(
            _factory,
            await DashboardClient.CreateKeyAsync(_factory, "models-write", "read", "predict", "write"));

        var response = await DashboardClient.PostFormAsync(
            predictor,
            Version,
            DashboardPaths.ModelAction(WorkflowTestKit.DemoModel, "1.0.0", "alias"),
            new() { ["alias"] = "sneaky" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        var model = await _api.GetFromJsonAsync<JsonObject>($"/api/v1/models/{WorkflowTestKit.DemoModel}");
        Assert.That(model!["aliases"]!.AsObject().ContainsKey("sneaky"), Is.False);
    }

    [Test]
    public async Task Alias_WhenSetFromThePageByAnAdmin_IsOnTheVersion()
    {
        using var admin = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);

        var response = await DashboardClient.PostFormAsync(
            admin,
            Version,
            DashboardPaths.ModelAction(WorkflowTestKit.DemoModel, "1.0.0", "alias"),
            new() { ["alias"] = "canary" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        var html = await admin.GetStringAsync(response.Headers.Location!.OriginalString);
        Assert.That(html, Does.Contain("Set alias: done.").And.Match("data-field=\"aliases\">[^<]*canary"));
        var model = await _api.GetFromJsonAsync<JsonObject>($"/api/v1/models/{WorkflowTestKit.DemoModel}");
        Assert.That(model!["aliases"]!["canary"]!.GetValue<string>(), Is.EqualTo("1.0.0"));
    }

    [Test]
    public async Task Compare_WhenTwoVersionsAreChosen_ShowsEachMetricOfBothAndTheirDifference()
    {
        using var reader = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);
        var metrics = (await _api.GetFromJsonAsync<JsonObject>($"/api/v1/models/{WorkflowTestKit.DemoModel}/versions/1.0.0"))!["metrics"]!
            .AsObject();

        var html = await reader.GetStringAsync(DashboardPaths.Compare(WorkflowTestKit.DemoModel, "1.0.0", "1.0.0"));

        Assert.That(metrics, Is.Not.Empty);
        foreach (var (metric, _) in metrics)
        {
            Assert.That(html, Does.Match($"(?s)data-metric=\"{metric}\">.*?<td class=\"num\">0</td>"), metric);
        }
    }

    private static string Text(object value) => value switch
    {
        bool b => b ? "true" : "false",
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!,
    };
}
