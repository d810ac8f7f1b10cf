using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Tests.Support;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows;

[Category("Integration")]
public sealed class TemporalHostTests
{
    [Test]
    public async Task HealthReady_WhenTheEmbeddedServerRuns_IncludesAHealthyTemporalCheck()
    {
        using var factory = new FormanovaFactory(Settings(("Model:Bootstrap:Enabled", "false")));
        var client = factory.CreateClient();

        var health = await client.GetFromJsonAsync<JsonObject>("/health/ready");

        Assert.That((string?)health!["checks"]!["temporal"]!["status"], Is.EqualTo("Healthy"));
    }

    [Test]
    public async Task Roles_WhenOnlyWorker_ServeHealthButNotTheWorkflowApi()
    {
        using var factory = new FormanovaFactory(Settings(("Formanova:Roles", "worker"), ("Model:Bootstrap:Enabled", "false")));
        var client = factory.CreateClient();

        var jobs = await client.PostAsJsonAsync("/api/v1/jobs", Body());
        var live = await client.GetAsync("/health/live");

        Assert.Multiple(() =>
        {
            Assert.That(jobs.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(live.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        });
    }

    [Test]
    public async Task Roles_WhenOnlyApi_AcceptJobsThatNoLocalWorkerRuns()
    {
        using var factory = new FormanovaFactory(Settings(("Formanova:Roles", "api"), ("Model:Bootstrap:Enabled", "false")));
        var client = factory.CreateClient();

        var accepted = await client.PostAsJsonAsync("/api/v1/jobs", Body());
        var job = await ReadAsync(await client.GetAsync(accepted.Headers.Location));

        Assert.That(accepted.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(Status(job), Is.EqualTo("running"), "queued on formanova-primary until a worker polls it");
    }
}
