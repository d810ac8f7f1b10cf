using System.Net;
using System.Net.Http.Json;
using Formanova.Tests.Workflows;

namespace Formanova.Tests.Host.Dashboard;

/// <summary>Runs for the dashboard's pages to show, started through the API and waited for by polling it.</summary>
internal static class DashboardRuns
{
    /// <summary>A processing job of the demo model, started paused: it stays running until resumed or cancelled.</summary>
    public static async Task<string> StartPausedJobAsync(HttpClient api)
    {
        var response = await api.PostAsJsonAsync("/api/v1/jobs", WorkflowTestKit.Body(startPaused: true));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        var id = (await WorkflowTestKit.ReadAsync(response))["id"]!.GetValue<string>();
        await WorkflowTestKit.PollAsync(api, $"/api/v1/jobs/{id}", j => j["status"]?.GetValue<string>() == "paused");
        return id;
    }

    /// <summary>A training run of <paramref name="model"/> on <paramref name="dataset"/> that has reached awaiting-approval.</summary>
    public static async Task<string> StartAwaitingApprovalAsync(HttpClient api, string model, long dataset, string version)
    {
        var response = await api.PostAsJsonAsync("/api/v1/training-runs", new
        {
            model,
            version,
            task = "binaryClassification",
            datasetId = dataset,
            requireApproval = true,
            approvalTimeoutSeconds = 3600,
        });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var id = (await WorkflowTestKit.ReadAsync(response))["id"]!.GetValue<string>();
        await WorkflowTestKit.PollAsync(
            api,
            $"/api/v1/training-runs/{id}",
            r => r["stage"]?.GetValue<string>() == "awaiting-approval",
            TimeSpan.FromSeconds(90));
        return id;
    }
}
